//! `schema.graphql` as a type table: every type it names declared (or built in), with
//! each field's arguments and AppSync auth directives.

use std::collections::{BTreeMap, BTreeSet};

use graphql_parser::schema as s;

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
    pub(super) fn from_ast(t: &s::Type<'static, String>) -> Ty {
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
                s::Definition::TypeDefinition(t) => schema.add_type(t)?,
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

    /// Adds a type definition to the table; interfaces and unions are refused.
    fn add_type(&mut self, t: &s::TypeDefinition<'static, String>) -> Result<(), String> {
        match t {
            s::TypeDefinition::Object(o) => {
                self.objects.insert(o.name.clone(), object_def(o));
            }
            s::TypeDefinition::InputObject(i) => {
                let fields = i
                    .fields
                    .iter()
                    .map(|a| (a.name.clone(), input_def(a)))
                    .collect();
                self.inputs.insert(i.name.clone(), fields);
            }
            s::TypeDefinition::Enum(e) => {
                let values = e.values.iter().map(|v| v.name.clone()).collect();
                self.enums.insert(e.name.clone(), values);
            }
            s::TypeDefinition::Scalar(sc) => {
                self.scalars.insert(sc.name.clone());
            }
            other => {
                return Err(format!(
                    "schema.graphql: the local server does not handle {other:?} types"
                ));
            }
        }
        Ok(())
    }

    fn is_output(&self, name: &str) -> bool {
        self.objects.contains_key(name) || self.enums.contains_key(name) || self.is_scalar(name)
    }

    pub(super) fn is_input(&self, name: &str) -> bool {
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

/// An object type: its fields (type, arguments, auth) and its own auth directives.
fn object_def(o: &s::ObjectType<'static, String>) -> ObjectDef {
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
    ObjectDef {
        fields,
        auth: auth_of(&o.directives),
    }
}
