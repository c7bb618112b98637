//! The GraphQL side of the local server: `schema.graphql` parsed into a type table, and
//! operations validated against it and shaped by their selection sets.
//!
//! The server answers only what AppSync answers for the pages (queries over HTTP,
//! subscriptions over the real-time socket), so this is not a general GraphQL engine:
//! one operation per request, objects, lists, scalars, enums and input objects, fragments
//! flattened by type. What it does check, it checks against the file itself: a field,
//! argument, variable or enum value the schema does not declare is an error naming it,
//! and AppSync's auth directives decide who may call a root field.
//!
//! # Layout
//!
//! - [`schema`]: `schema.graphql` as a type table.
//! - [`operation`]: an operation prepared (picked, validated, authorised) and the
//!   [`Shape`] of its result.
//! - [`validate`]: the walk that checks variables, arguments and selection sets.

pub mod operation;
pub mod schema;
mod validate;

pub use operation::{Caller, GqlError, OpKind, Operation, RootField, prepare};
pub use schema::Schema;

#[cfg(test)]
mod tests;
