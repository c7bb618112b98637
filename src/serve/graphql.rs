//! The GraphQL side of the local server: `schema.graphql` parsed into a type table, and
//! operations validated against it and shaped by their selection sets.
//!
//! The server answers only what AppSync answers for the pages (queries over HTTP,
//! subscriptions over the real-time socket), so this is not a general GraphQL engine:
//! one operation per request, objects, lists, scalars, enums and input objects, fragments
//! flattened by type. What it does check, it checks against the file itself: a field,
//! argument, variable or enum value the schema does not declare is an error naming it,
//! and AppSync's auth directives decide who may call a root field.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use graphql_parser::query as q;
use graphql_parser::schema as s;
use serde_json::{Map, Value};

/// The scalars every GraphQL schema has.
const BUILTIN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];
/// The scalars AppSync provides without a declaration.
const AWS_SCALARS: [&str; 9] = [
    "AWSDate",
    "AWSTime",
    "AWSDateTime",
    "AWSTimestamp",
    "AWSEmail",
    "AWSJSON",
    "AWSURL",
    "AWSPhone",
    "AWSIPAddress",
];

/// A field's or an argument's type, as written in the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    fn from_ast(t: &s::Type<'static, String>) -> Ty {
        match t {
            s::Type::NamedType(n) => Ty::Named(n.clone()),
            s::Type::ListType(t) => Ty::List(Box::new(Ty::from_ast(t))),
            s::Type::NonNullType(t) => Ty::NonNull(Box::new(Ty::from_ast(t))),
        }
    }

    /// The named type under any list and non-null wrappers.
    pub fn name(&self) -> &str {
        match self {
            Ty::Named(n) => n,
            Ty::List(t) | Ty::NonNull(t) => t.name(),
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Named(n) => write!(f, "{n}"),
            Ty::List(t) => write!(f, "[{t}]"),
            Ty::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

/// An argument or an input-object field.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDef {
    pub ty: Ty,
    pub has_default: bool,
}

/// A field of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub ty: Ty,
    pub args: BTreeMap<String, InputDef>,
    /// AppSync auth directives on the field (`aws_iam`, `aws_api_key`, …).
    pub auth: BTreeSet<String>,
}

/// An object type.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDef {
    pub fields: BTreeMap<String, FieldDef>,
    pub auth: BTreeSet<String>,
}

/// `schema.graphql` as a type table.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub query: String,
    pub mutation: Option<String>,
    pub subscription: Option<String>,
    pub objects: BTreeMap<String, ObjectDef>,
    pub inputs: BTreeMap<String, BTreeMap<String, InputDef>>,
    pub enums: BTreeMap<String, BTreeSet<String>>,
    pub scalars: BTreeSet<String>,
}

fn auth_of(directives: &[s::Directive<'static, String>]) -> BTreeSet<String> {
    directives
        .iter()
        .map(|d| d.name.clone())
        .filter(|n| n.starts_with("aws_") && n != "aws_subscribe")
        .collect()
}

fn input_def(v: &s::InputValue<'static, String>) -> InputDef {
    InputDef {
        ty: Ty::from_ast(&v.value_type),
        has_default: v.default_value.is_some(),
    }
}

impl Schema {
    /// Parses SDL and checks that every type it names is declared (or is a built-in or
    /// AppSync scalar).
    pub fn parse(sdl: &str) -> Result<Schema, String> {
        let doc = s::parse_schema::<String>(sdl)
            .map_err(|e| format!("schema.graphql does not parse: {e}"))?
            .into_static();
        let mut schema = Schema {
            query: "Query".into(),
            mutation: None,
            subscription: None,
            objects: BTreeMap::new(),
            inputs: BTreeMap::new(),
            enums: BTreeMap::new(),
            scalars: BUILTIN_SCALARS
                .iter()
                .chain(AWS_SCALARS.iter())
                .map(|s| s.to_string())
                .collect(),
        };
        let mut roots = None;
        for def in &doc.definitions {
            match def {
                s::Definition::SchemaDefinition(d) => roots = Some(d.clone()),
                s::Definition::TypeDefinition(t) => match t {
                    s::TypeDefinition::Object(o) => {
                        let fields = o
                            .fields
                            .iter()
                            .map(|f| {
                                let def = FieldDef {
                                    ty: Ty::from_ast(&f.field_type),
                                    args: f
                                        .arguments
                                        .iter()
                                        .map(|a| (a.name.clone(), input_def(a)))
                                        .collect(),
                                    auth: auth_of(&f.directives),
                                };
                                (f.name.clone(), def)
                            })
                            .collect();
                        schema.objects.insert(
                            o.name.clone(),
                            ObjectDef {
                                fields,
                                auth: auth_of(&o.directives),
                            },
                        );
                    }
                    s::TypeDefinition::InputObject(i) => {
                        let fields = i
                            .fields
                            .iter()
                            .map(|a| (a.name.clone(), input_def(a)))
                            .collect();
                        schema.inputs.insert(i.name.clone(), fields);
                    }
                    s::TypeDefinition::Enum(e) => {
                        let values = e.values.iter().map(|v| v.name.clone()).collect();
                        schema.enums.insert(e.name.clone(), values);
                    }
                    s::TypeDefinition::Scalar(sc) => {
                        schema.scalars.insert(sc.name.clone());
                    }
                    other => {
                        return Err(format!(
                            "schema.graphql: the local server does not handle {other:?} types"
                        ));
                    }
                },
                s::Definition::TypeExtension(_) | s::Definition::DirectiveDefinition(_) => {}
            }
        }
        if let Some(r) = roots {
            schema.query = r.query.unwrap_or_else(|| "Query".into());
            schema.mutation = r.mutation;
            schema.subscription = r.subscription;
        } else {
            schema.mutation = Some("Mutation".into()).filter(|m| schema.objects.contains_key(m));
            schema.subscription =
                Some("Subscription".into()).filter(|m| schema.objects.contains_key(m));
        }
        schema.check()?;
        Ok(schema)
    }

    fn is_output(&self, name: &str) -> bool {
        self.objects.contains_key(name) || self.enums.contains_key(name) || self.is_scalar(name)
    }

    fn is_input(&self, name: &str) -> bool {
        self.inputs.contains_key(name) || self.enums.contains_key(name) || self.is_scalar(name)
    }

    fn is_scalar(&self, name: &str) -> bool {
        self.scalars.contains(name)
    }

    fn check(&self) -> Result<(), String> {
        for root in [
            Some(&self.query),
            self.mutation.as_ref(),
            self.subscription.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !self.objects.contains_key(root) {
                return Err(format!("schema.graphql: root type {root} is not declared"));
            }
        }
        for (tname, o) in &self.objects {
            for (fname, f) in &o.fields {
                if !self.is_output(f.ty.name()) {
                    return Err(format!(
                        "schema.graphql: {tname}.{fname} has unknown type {}",
                        f.ty
                    ));
                }
                for (aname, a) in &f.args {
                    if !self.is_input(a.ty.name()) {
                        return Err(format!(
                            "schema.graphql: argument {aname} of {tname}.{fname} has unknown input type {}",
                            a.ty
                        ));
                    }
                }
            }
        }
        for (iname, fields) in &self.inputs {
            for (fname, f) in fields {
                if !self.is_input(f.ty.name()) {
                    return Err(format!(
                        "schema.graphql: {iname}.{fname} has unknown input type {}",
                        f.ty
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One GraphQL error, as AppSync writes it (`errorType` and `message`).
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    pub error_type: &'static str,
    pub message: String,
}

impl GqlError {
    fn validation(message: String) -> GqlError {
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
    let name_of = |op: &q::OperationDefinition<'static, String>| -> Option<String> {
        match op {
            q::OperationDefinition::SelectionSet(_) => None,
            q::OperationDefinition::Query(q) => q.name.clone(),
            q::OperationDefinition::Mutation(m) => m.name.clone(),
            q::OperationDefinition::Subscription(s) => s.name.clone(),
        }
    };
    let op = match operation_name {
        Some(n) => *ops
            .iter()
            .find(|op| name_of(op).as_deref() == Some(n))
            .ok_or_else(|| {
                vec![GqlError::validation(format!(
                    "Unknown operation named '{n}'"
                ))]
            })?,
        None if ops.len() == 1 => ops[0],
        None if ops.is_empty() => {
            return Err(vec![GqlError::validation(
                "The request contains no operation".into(),
            )]);
        }
        None => {
            return Err(vec![GqlError::validation(
                "The request has several operations: name one with operationName".into(),
            )]);
        }
    };
    let (kind, var_defs, selection) = match op {
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
    };
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
    let mut cx = Cx {
        schema,
        fragments: &fragments,
        vars: Map::new(),
        root_args: HashMap::new(),
        errors: Vec::new(),
    };
    cx.coerce_variables(var_defs, variables);
    let fields = cx.selection(root, selection, root);
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    let Shape::Object { fields, .. } = fields else {
        unreachable!("a root selection is an object")
    };
    let root_def = &schema.objects[root];
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
    if kind == OpKind::Subscription && out.len() != 1 {
        return Err(vec![GqlError::validation(
            "A subscription selects exactly one root field".into(),
        )]);
    }
    Ok(Operation { kind, fields: out })
}

/// Validation state of one operation.
struct Cx<'a> {
    schema: &'a Schema,
    fragments: &'a HashMap<String, q::FragmentDefinition<'static, String>>,
    vars: Map<String, Value>,
    /// Root-field arguments by response key, kept while the selection is walked.
    root_args: HashMap<String, Map<String, Value>>,
    errors: Vec<GqlError>,
}

impl Cx<'_> {
    fn err(&mut self, message: String) {
        self.errors.push(GqlError::validation(message));
    }

    fn coerce_variables(
        &mut self,
        defs: &[q::VariableDefinition<'static, String>],
        given: &Map<String, Value>,
    ) {
        for d in defs {
            let ty = Ty::from_ast(&d.var_type);
            if !self.schema.is_input(ty.name()) {
                self.err(format!("Variable '{}' has unknown input type {ty}", d.name));
                continue;
            }
            let value = match (given.get(&d.name), &d.default_value) {
                (Some(v), _) => v.clone(),
                (None, Some(def)) => match self.literal(def) {
                    Some(v) => v,
                    None => continue,
                },
                (None, None) => Value::Null,
            };
            let missing = !given.contains_key(&d.name) && d.default_value.is_none();
            if missing && !matches!(ty, Ty::NonNull(_)) {
                continue;
            }
            if let Some(v) = self.coerce(&value, &ty, &format!("variable '{}'", d.name)) {
                self.vars.insert(d.name.clone(), v);
            }
        }
    }

    /// A literal (with variables substituted) as JSON, before coercion to a type.
    fn literal(&mut self, v: &q::Value<'static, String>) -> Option<Value> {
        Some(match v {
            q::Value::Variable(name) => match self.vars.get(name) {
                Some(v) => v.clone(),
                None => Value::Null,
            },
            q::Value::Int(n) => Value::from(n.as_i64()?),
            q::Value::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
            q::Value::String(s) => Value::String(s.clone()),
            q::Value::Boolean(b) => Value::Bool(*b),
            q::Value::Null => Value::Null,
            q::Value::Enum(e) => Value::String(e.clone()),
            q::Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.literal(i)?);
                }
                Value::Array(out)
            }
            q::Value::Object(fields) => {
                let mut out = Map::new();
                for (k, v) in fields {
                    out.insert(k.clone(), self.literal(v)?);
                }
                Value::Object(out)
            }
        })
    }

    /// Checks `v` against input type `ty`; the coerced value, or an error naming `at`.
    fn coerce(&mut self, v: &Value, ty: &Ty, at: &str) -> Option<Value> {
        match ty {
            Ty::NonNull(inner) => {
                if v.is_null() {
                    self.err(format!(
                        "{at}: a value of type {ty} is required, found null"
                    ));
                    return None;
                }
                self.coerce(v, inner, at)
            }
            _ if v.is_null() => Some(Value::Null),
            Ty::List(inner) => match v {
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        out.push(self.coerce(item, inner, &format!("{at}[{i}]"))?);
                    }
                    Some(Value::Array(out))
                }
                one => Some(Value::Array(vec![self.coerce(one, inner, at)?])),
            },
            Ty::Named(name) => {
                let ok = match name.as_str() {
                    "Int" => v.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                    "Float" => v.is_number(),
                    "String" | "AWSJSON" | "AWSDateTime" | "AWSDate" | "AWSTime" | "AWSEmail"
                    | "AWSURL" | "AWSPhone" | "AWSIPAddress" => v.is_string(),
                    "ID" => v.is_string() || v.is_i64(),
                    "Boolean" => v.is_boolean(),
                    "AWSTimestamp" => v.is_i64(),
                    _ => {
                        if let Some(values) = self.schema.enums.get(name) {
                            v.as_str().is_some_and(|s| values.contains(s))
                        } else if let Some(fields) = self.schema.inputs.get(name) {
                            return self.coerce_input(v, name, fields, at);
                        } else {
                            v.is_string() || v.is_number() || v.is_boolean()
                        }
                    }
                };
                if name == "AWSJSON"
                    && let Some(s) = v.as_str()
                    && serde_json::from_str::<Value>(s).is_err()
                {
                    self.err(format!("{at}: AWSJSON value is not valid JSON"));
                    return None;
                }
                if !ok {
                    self.err(format!("{at}: {v} is not a valid {name}"));
                    return None;
                }
                Some(match (name.as_str(), v) {
                    ("ID", Value::Number(n)) => Value::String(n.to_string()),
                    _ => v.clone(),
                })
            }
        }
    }

    fn coerce_input(
        &mut self,
        v: &Value,
        name: &str,
        fields: &BTreeMap<String, InputDef>,
        at: &str,
    ) -> Option<Value> {
        let Value::Object(obj) = v else {
            self.err(format!("{at}: {name} must be an object"));
            return None;
        };
        let mut out = Map::new();
        for k in obj.keys() {
            if !fields.contains_key(k) {
                self.err(format!("{at}: field '{k}' is not defined on {name}"));
                return None;
            }
        }
        for (k, def) in fields {
            match obj.get(k) {
                Some(v) => {
                    let c = self.coerce(v, &def.ty, &format!("{at}.{k}"))?;
                    out.insert(k.clone(), c);
                }
                None if matches!(def.ty, Ty::NonNull(_)) && !def.has_default => {
                    self.err(format!("{at}: required field '{k}' of {name} is missing"));
                    return None;
                }
                None => {}
            }
        }
        Some(Value::Object(out))
    }

    /// Validates a selection set on object `type_name`; `path` names it in errors.
    fn selection(
        &mut self,
        type_name: &str,
        set: &q::SelectionSet<'static, String>,
        path: &str,
    ) -> Shape {
        let mut fields = Vec::new();
        self.collect(type_name, set, path, &mut fields, 0);
        Shape::Object {
            type_name: type_name.to_owned(),
            fields,
        }
    }

    fn collect(
        &mut self,
        type_name: &str,
        set: &q::SelectionSet<'static, String>,
        path: &str,
        out: &mut Vec<(String, String, Shape)>,
        depth: usize,
    ) {
        if depth > 8 {
            self.err(format!("{path}: fragments nest too deeply (or in a cycle)"));
            return;
        }
        let schema = self.schema;
        let fragments = self.fragments;
        let Some(obj) = schema.objects.get(type_name) else {
            self.err(format!("{path}: {type_name} is not an object type"));
            return;
        };
        for sel in &set.items {
            match sel {
                q::Selection::Field(f) => {
                    let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                    let here = format!("{path}/{}", f.name);
                    if f.name == "__typename" {
                        out.push((key, f.name.clone(), Shape::Leaf));
                        continue;
                    }
                    let Some(def) = obj.fields.get(&f.name) else {
                        self.err(format!(
                            "Validation error of type FieldUndefined: Field '{}' in type '{type_name}' is undefined @ '{here}'",
                            f.name
                        ));
                        continue;
                    };
                    let args = self.arguments(f, def, &here);
                    if type_name == self.schema.query
                        || Some(type_name) == self.schema.mutation.as_deref()
                        || Some(type_name) == self.schema.subscription.as_deref()
                    {
                        self.root_args.insert(key.clone(), args);
                    }
                    let inner = def.ty.name();
                    let shape = if schema.objects.contains_key(inner) {
                        if f.selection_set.items.is_empty() {
                            self.err(format!(
                                "Validation error of type SubSelectionRequired: Sub selection required for type {} of field {} @ '{here}'",
                                def.ty, f.name
                            ));
                            continue;
                        }
                        self.selection(inner, &f.selection_set, &here)
                    } else {
                        if !f.selection_set.items.is_empty() {
                            self.err(format!(
                                "Validation error of type SubSelectionNotAllowed: Sub selection not allowed on leaf type {} of field {} @ '{here}'",
                                def.ty, f.name
                            ));
                            continue;
                        }
                        Shape::Leaf
                    };
                    out.push((key, f.name.clone(), shape));
                }
                q::Selection::InlineFragment(frag) => {
                    if let Some(q::TypeCondition::On(on)) = &frag.type_condition
                        && on != type_name
                    {
                        self.err(format!(
                            "{path}: fragment on {on} cannot apply to {type_name}"
                        ));
                        continue;
                    }
                    self.collect(type_name, &frag.selection_set, path, out, depth + 1);
                }
                q::Selection::FragmentSpread(spread) => {
                    let Some(frag) = fragments.get(&spread.fragment_name) else {
                        self.err(format!(
                            "{path}: fragment '{}' is not defined",
                            spread.fragment_name
                        ));
                        continue;
                    };
                    let q::TypeCondition::On(on) = &frag.type_condition;
                    if on != type_name {
                        self.err(format!(
                            "{path}: fragment '{}' on {on} cannot apply to {type_name}",
                            spread.fragment_name
                        ));
                        continue;
                    }
                    self.collect(type_name, &frag.selection_set, path, out, depth + 1);
                }
            }
        }
    }

    fn arguments(
        &mut self,
        f: &q::Field<'static, String>,
        def: &FieldDef,
        here: &str,
    ) -> Map<String, Value> {
        let mut args = Map::new();
        for (name, lit) in &f.arguments {
            let Some(adef) = def.args.get(name) else {
                self.err(format!(
                    "Validation error of type UnknownArgument: Unknown field argument {name} @ '{here}'"
                ));
                continue;
            };
            let Some(raw) = self.literal(lit) else {
                self.err(format!("{here}: argument {name} is not a valid value"));
                continue;
            };
            if let Some(v) = self.coerce(&raw, &adef.ty, &format!("argument {name} @ '{here}'")) {
                args.insert(name.clone(), v);
            }
        }
        for (name, adef) in &def.args {
            if matches!(adef.ty, Ty::NonNull(_))
                && !adef.has_default
                && !args.contains_key(name)
                && !f.arguments.iter().any(|(n, _)| n == name)
            {
                self.err(format!(
                    "Validation error of type MissingFieldArgument: Missing field argument {name} @ '{here}'"
                ));
            }
        }
        args
    }

    fn take_args(&mut self, key: &str) -> Map<String, Value> {
        self.root_args.remove(key).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::parse(crate::serve::SCHEMA_SDL).expect("schema.graphql parses")
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_schema_file_declares_the_contract() {
        let s = schema();
        let fu = &s.objects["FuelUpdate"].fields;
        for f in [
            "v",
            "race_id",
            "car",
            "seq",
            "window_start",
            "window_end",
            "lap",
            "flag",
            "in_pit",
            "samples",
            "miles",
            "burn_gal",
            "burn_rate_gph",
            "mpg_window",
            "mpg_lap",
            "mpg_stint",
            "used_stint_gal",
            "used_race_gal",
            "remaining_gal",
            "remaining_low_gal",
            "remaining_high_gal",
            "laps_to_empty",
            "save_needed_pct",
            "burn_index",
            "mode",
            "model",
        ] {
            assert!(fu.contains_key(f), "FuelUpdate.{f} missing");
        }
        assert_eq!(fu.len(), 26);
        let q = &s.objects["Query"].fields;
        assert!(
            q.contains_key("latest") && q.contains_key("history") && q.contains_key("raceState")
        );
        let m = &s.objects["Mutation"].fields;
        assert!(m["publishUpdates"].auth.contains("aws_iam"));
        assert!(!m["publishUpdates"].auth.contains("aws_api_key"));
        let sub = &s.objects["Subscription"].fields;
        assert!(sub.contains_key("onUpdates") && sub.contains_key("onRaceState"));
    }

    #[test]
    fn a_type_the_schema_does_not_declare_is_refused() {
        let e = Schema::parse("type Query { a: Nope }").unwrap_err();
        assert!(e.contains("Query.a has unknown type Nope"), "{e}");
    }

    #[test]
    fn a_query_is_shaped_by_its_selection() {
        let s = schema();
        let op = prepare(
            &s,
            "query L($r: ID!) { latest(race_id: $r) { car fuel: remaining_gal __typename } }",
            None,
            &vars(json!({"r": "sim-1"})),
            Caller::ApiKey,
        )
        .unwrap();
        assert_eq!(op.kind, OpKind::Query);
        assert_eq!(op.fields[0].args["race_id"], json!("sim-1"));
        let v = op.fields[0]
            .shape
            .project(&json!([{"car": "24", "remaining_gal": 3.5, "lap": 7.0}]));
        assert_eq!(
            v,
            json!([{"car": "24", "fuel": 3.5, "__typename": "FuelUpdate"}])
        );
    }

    #[test]
    fn bad_operations_are_errors_that_name_the_problem() {
        let s = schema();
        let cases = [
            (
                "{ latest(race_id: \"r\") { car nope } }",
                "Field 'nope' in type 'FuelUpdate' is undefined",
            ),
            ("{ latest { car } }", "Missing field argument race_id"),
            (
                "{ latest(race_id: \"r\", lap: 3) { car } }",
                "Unknown field argument lap",
            ),
            ("{ latest(race_id: \"r\") }", "Sub selection required"),
            (
                "{ latest(race_id: \"r\") { car { x } } }",
                "Sub selection not allowed",
            ),
            (
                "{ history(race_id: \"r\", car: \"1\", limit: \"x\") { car } }",
                "is not a valid Int",
            ),
            ("{ latest(race_id: \"r\") { car ", "Invalid syntax"),
            (
                "query Q($x: Nope) { latest(race_id: \"r\") { car } }",
                "unknown input type Nope",
            ),
        ];
        for (text, want) in cases {
            let e = prepare(&s, text, None, &Map::new(), Caller::ApiKey).unwrap_err();
            assert!(
                e.iter().any(|e| e.message.contains(want)),
                "{text}: {e:?} should say {want}"
            );
        }
    }

    #[test]
    fn the_writers_mutations_are_closed_to_api_keys() {
        let s = schema();
        let e = prepare(
            &s,
            "mutation { publishRaceState(state: {v: 1, race_id: \"r\", track: \"t\", ts: 1, flag: green, stage: 1, leader_lap: 0, cars_running: 1, drivers: \"{}\"}) { race_id } }",
            None,
            &Map::new(),
            Caller::ApiKey,
        )
        .unwrap_err();
        assert_eq!(e[0].error_type, "UnauthorizedException");
        // The input was valid: only the caller was refused.
        let e = prepare(
            &s,
            "mutation { publishRaceState(state: {v: 1, race_id: \"r\", track: \"t\", ts: 1, flag: purple, stage: 1, leader_lap: 0, cars_running: 1, drivers: \"{}\"}) { race_id } }",
            None,
            &Map::new(),
            Caller::ApiKey,
        )
        .unwrap_err();
        assert!(e[0].message.contains("not a valid Flag"), "{e:?}");
    }
}
