//! An operation prepared for the server: parsed, picked from its document, validated
//! against the schema, the caller allowed each root field; and the [`Shape`] that cuts
//! a result down to what it selected.

use std::collections::HashMap;

use graphql_parser::query as q;
use serde_json::{Map, Value};

use super::schema::{ObjectDef, Schema};
use super::validate::Cx;

/// One GraphQL error, as AppSync writes it (`errorType` and `message`).
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    pub error_type: &'static str,
    pub message: String,
}

impl GqlError {
    pub(super) fn validation(message: String) -> GqlError {
        GqlError {
            error_type: "ValidationError",
            message,
        }
    }

    pub fn unauthorized(message: String) -> GqlError {
        GqlError {
            error_type: "UnauthorizedException",
            message,
        }
    }

    /// The error as a JSON object of a response's `errors`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"errorType": self.error_type, "message": self.message})
    }
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

/// How a field's value is shaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A scalar or enum: the value as it is.
    Leaf,
    /// An object: these fields (response key, field name, shape), in query order.
    Object {
        type_name: String,
        fields: Vec<(String, String, Shape)>,
    },
}

impl Shape {
    /// `value` with only the selected fields, under their response keys (lists and
    /// nulls pass through).
    pub fn project(&self, value: &Value) -> Value {
        match (self, value) {
            (Shape::Leaf, v) => v.clone(),
            (_, Value::Null) => Value::Null,
            (shape, Value::Array(items)) => {
                Value::Array(items.iter().map(|v| shape.project(v)).collect())
            }
            (Shape::Object { type_name, fields }, Value::Object(obj)) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, name, sub) in fields {
                    let v = if name == "__typename" {
                        Value::String(type_name.clone())
                    } else {
                        obj.get(name).map_or(Value::Null, |v| sub.project(v))
                    };
                    out.insert(key.clone(), v);
                }
                Value::Object(out)
            }
            (Shape::Object { .. }, other) => other.clone(),
        }
    }
}

/// A root field of a validated operation: what to resolve, with which arguments, and
/// how to shape the result.
#[derive(Debug, Clone, PartialEq)]
pub struct RootField {
    pub key: String,
    pub name: String,
    pub args: Map<String, Value>,
    pub shape: Shape,
}

/// A validated operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: OpKind,
    pub fields: Vec<RootField>,
}

/// Who is calling: AppSync's auth modes. The local server knows only API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    ApiKey,
}

impl Caller {
    fn directive(self) -> &'static str {
        match self {
            Caller::ApiKey => "aws_api_key",
        }
    }
}

/// An operation of a parsed document, borrowed from it.
type OpDef<'d> = &'d q::OperationDefinition<'static, String>;

/// Parses `text`, picks the operation (`operation_name`, or the only one), and checks
/// it against `schema` with `variables`; the caller must be allowed every root field.
pub fn prepare(
    schema: &Schema,
    text: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Value>,
    caller: Caller,
) -> Result<Operation, Vec<GqlError>> {
    let doc = q::parse_query::<String>(text)
        .map_err(|e| vec![GqlError::validation(format!("Invalid syntax: {e}"))])?
        .into_static();
    let mut fragments = HashMap::new();
    let mut ops = Vec::new();
    for def in &doc.definitions {
        match def {
            q::Definition::Fragment(f) => {
                fragments.insert(f.name.clone(), f.clone());
            }
            q::Definition::Operation(op) => ops.push(op),
        }
    }
    let op = pick(&ops, operation_name).map_err(|e| vec![e])?;
    let (kind, var_defs, selection) = parts(op);
    let root = match kind {
        OpKind::Query => Some(&schema.query),
        OpKind::Mutation => schema.mutation.as_ref(),
        OpKind::Subscription => schema.subscription.as_ref(),
    }
    .ok_or_else(|| {
        vec![GqlError::validation(format!(
            "The schema has no {kind:?} type"
        ))]
    })?;
    let mut cx = Cx::new(schema, &fragments);
    cx.coerce_variables(var_defs, variables);
    let fields = cx.selection(root, selection, root);
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    let Shape::Object { fields, .. } = fields else {
        unreachable!("a root selection is an object")
    };
    let out = root_fields(&mut cx, root, &schema.objects[root], fields, caller)?;
    if kind == OpKind::Subscription && out.len() != 1 {
        return Err(vec![GqlError::validation(
            "A subscription selects exactly one root field".into(),
        )]);
    }
    Ok(Operation { kind, fields: out })
}

/// The operation named `name`, or the document's only one.
fn pick<'d>(ops: &[OpDef<'d>], name: Option<&str>) -> Result<OpDef<'d>, GqlError> {
    let name_of = |op: OpDef| -> Option<String> {
        match op {
            q::OperationDefinition::SelectionSet(_) => None,
            q::OperationDefinition::Query(q) => q.name.clone(),
            q::OperationDefinition::Mutation(m) => m.name.clone(),
            q::OperationDefinition::Subscription(s) => s.name.clone(),
        }
    };
    match name {
        Some(n) => ops
            .iter()
            .copied()
            .find(|op| name_of(op).as_deref() == Some(n))
            .ok_or_else(|| GqlError::validation(format!("Unknown operation named '{n}'"))),
        None if ops.len() == 1 => Ok(ops[0]),
        None if ops.is_empty() => Err(GqlError::validation(
            "The request contains no operation".into(),
        )),
        None => Err(GqlError::validation(
            "The request has several operations: name one with operationName".into(),
        )),
    }
}

/// What an operation does, its variable definitions and its selection set.
fn parts<'d>(
    op: OpDef<'d>,
) -> (
    OpKind,
    &'d [q::VariableDefinition<'static, String>],
    &'d q::SelectionSet<'static, String>,
) {
    match op {
        q::OperationDefinition::SelectionSet(s) => (OpKind::Query, &[][..], s),
        q::OperationDefinition::Query(q) => {
            (OpKind::Query, &q.variable_definitions[..], &q.selection_set)
        }
        q::OperationDefinition::Mutation(m) => (
            OpKind::Mutation,
            &m.variable_definitions[..],
            &m.selection_set,
        ),
        q::OperationDefinition::Subscription(s) => (
            OpKind::Subscription,
            &s.variable_definitions[..],
            &s.selection_set,
        ),
    }
}

/// The root `fields` selected on `root` (`root_def`) with their arguments, each one the
/// caller must be allowed: the field's auth directives, or else its type's.
fn root_fields(
    cx: &mut Cx,
    root: &str,
    root_def: &ObjectDef,
    fields: Vec<(String, String, Shape)>,
    caller: Caller,
) -> Result<Vec<RootField>, Vec<GqlError>> {
    let mut out = Vec::with_capacity(fields.len());
    for (key, name, shape) in fields {
        if name == "__typename" {
            continue;
        }
        let def = &root_def.fields[&name];
        let allowed = if def.auth.is_empty() {
            root_def.auth.is_empty() || root_def.auth.contains(caller.directive())
        } else {
            def.auth.contains(caller.directive())
        };
        if !allowed {
            return Err(vec![GqlError::unauthorized(format!(
                "Not Authorized to access {name} on type {root}"
            ))]);
        }
        let args = cx.take_args(&key);
        out.push(RootField {
            key,
            name,
            args,
            shape,
        });
    }
    Ok(out)
}
