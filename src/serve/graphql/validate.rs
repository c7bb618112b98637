//! An operation checked against the schema: its variables and arguments coerced to
//! their input types, its selection sets walked (fragments flattened by type) into the
//! [`Shape`] of each field.

use std::collections::{BTreeMap, HashMap};

use graphql_parser::query as q;
use serde_json::{Map, Value};

use super::operation::{GqlError, Shape};
use super::schema::{FieldDef, InputDef, ObjectDef, Schema, Ty};

/// Validation state of one operation.
pub(super) struct Cx<'a> {
    schema: &'a Schema,
    fragments: &'a HashMap<String, q::FragmentDefinition<'static, String>>,
    vars: Map<String, Value>,
    /// Root-field arguments by response key, kept while the selection is walked.
    root_args: HashMap<String, Map<String, Value>>,
    pub(super) errors: Vec<GqlError>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(
        schema: &'a Schema,
        fragments: &'a HashMap<String, q::FragmentDefinition<'static, String>>,
    ) -> Cx<'a> {
        Cx {
            schema,
            fragments,
            vars: Map::new(),
            root_args: HashMap::new(),
            errors: Vec::new(),
        }
    }

    fn err(&mut self, message: String) {
        self.errors.push(GqlError::validation(message));
    }

    /// Coerces the operation's variables (`defs`) from the request's (`given`).
    pub(super) fn coerce_variables(
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
    pub(super) fn selection(
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

    /// Adds the fields `set` selects on object `type_name` to `out`, fragments
    /// flattened; `depth` counts the fragments entered.
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
                q::Selection::Field(f) => self.field(obj, type_name, f, path, out),
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

    /// Adds field `f` of object `obj` (named `type_name`) to `out`, with its shape; a
    /// root field's arguments are kept for [`Cx::take_args`].
    fn field(
        &mut self,
        obj: &ObjectDef,
        type_name: &str,
        f: &q::Field<'static, String>,
        path: &str,
        out: &mut Vec<(String, String, Shape)>,
    ) {
        let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
        let here = format!("{path}/{}", f.name);
        if f.name == "__typename" {
            out.push((key, f.name.clone(), Shape::Leaf));
            return;
        }
        let Some(def) = obj.fields.get(&f.name) else {
            self.err(format!(
                "Validation error of type FieldUndefined: Field '{}' in type '{type_name}' is undefined @ '{here}'",
                f.name
            ));
            return;
        };
        let args = self.arguments(f, def, &here);
        if type_name == self.schema.query
            || Some(type_name) == self.schema.mutation.as_deref()
            || Some(type_name) == self.schema.subscription.as_deref()
        {
            self.root_args.insert(key.clone(), args);
        }
        let inner = def.ty.name();
        let shape = if self.schema.objects.contains_key(inner) {
            if f.selection_set.items.is_empty() {
                self.err(format!(
                    "Validation error of type SubSelectionRequired: Sub selection required for type {} of field {} @ '{here}'",
                    def.ty, f.name
                ));
                return;
            }
            self.selection(inner, &f.selection_set, &here)
        } else {
            if !f.selection_set.items.is_empty() {
                self.err(format!(
                    "Validation error of type SubSelectionNotAllowed: Sub selection not allowed on leaf type {} of field {} @ '{here}'",
                    def.ty, f.name
                ));
                return;
            }
            Shape::Leaf
        };
        out.push((key, f.name.clone(), shape));
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

    /// The arguments of the root field at response key `key`.
    pub(super) fn take_args(&mut self, key: &str) -> Map<String, Value> {
        self.root_args.remove(key).unwrap_or_default()
    }
}
