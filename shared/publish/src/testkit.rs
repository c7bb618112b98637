//! A stand-in for the writer API and for AppSync on 127.0.0.1, for tests: it verifies each
//! request's SigV4 signature with [`crate::verify`], checks the payload (a writer request,
//! or a GraphQL mutation against `schema.graphql`), records what it saw, and answers as the
//! real service would, or as the test scripted (an error status, a hang).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::Credentials;
use crate::signer::Signer;
use crate::wire::{WriteRequest, WriteResponse};

/// Dummy credentials both sides of a test share (never valid anywhere).
pub fn test_credentials() -> Credentials {
    Credentials::new(
        "AKIDBURNBARTEST",
        "burnbar/test/secret/key/EXAMPLEKEY",
        Some("burnbar-test-session-token".to_owned()),
        None,
        "testkit",
    )
}

/// The region the tests sign for.
pub const TEST_REGION: &str = "us-east-1";

/// What the stand-in plays.
#[derive(Debug, Clone)]
pub enum Kind {
    /// The writer API: `execute-api`, accepts a [`WriteRequest`], answers [`WriteResponse`].
    Writer,
    /// AppSync: `appsync`, accepts the mutations `schema` (the text of `schema.graphql`)
    /// declares, answers with the mutation's data as AppSync's NONE resolver does.
    AppSync { schema: String },
}

/// A scripted answer, used (in order) instead of the normal one.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The normal answer (to script a failure after some successes).
    Normal,
    /// This status and body.
    Status(u16, String),
    /// Never answer (the client's timeout must fire).
    Hang,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub body: Value,
    /// The signature check's verdict.
    pub signature: Result<(), String>,
    /// What is wrong with the payload (empty when it is right).
    pub problems: Vec<String>,
    /// The status it was answered with (None: hung).
    pub status: Option<u16>,
}

struct Inner {
    kind: Kind,
    signer: Signer,
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Recorded>>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    /// `http://127.0.0.1:PORT/graphql` (AppSync) or `http://127.0.0.1:PORT/updates` (writer).
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts on 127.0.0.1 on a free port, verifying signatures by [`test_credentials`].
    pub async fn start(kind: Kind) -> std::io::Result<StandIn> {
        let service = match kind {
            Kind::Writer => "execute-api",
            Kind::AppSync { .. } => "appsync",
        };
        Self::start_with(kind, Signer::new(test_credentials(), TEST_REGION, service)).await
    }

    /// Starts with the signer whose signature it expects.
    pub async fn start_with(kind: Kind, signer: Signer) -> std::io::Result<StandIn> {
        let path = match kind {
            Kind::Writer => "/updates",
            Kind::AppSync { .. } => "/graphql",
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}{path}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            kind,
            signer,
            script: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
        });
        let state = inner.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let state = state.clone();
            async move { handle(&state, m, u, h, b).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StandIn { url, inner, task })
    }

    /// Queues answers to give, in order, before the normal ones.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.inner.script).extend(replies);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.inner.seen).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    state: &Inner,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let url = format!(
        "http://{host}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signature = crate::verify::verify(
        &state.signer,
        method.as_str(),
        &url,
        &pairs,
        &body,
        SystemTime::now(),
    );
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (problems, normal) = match &state.kind {
        Kind::Writer => writer_answer(&body),
        Kind::AppSync { schema } => appsync_answer(schema, &json),
    };
    let scripted = lock(&state.script).pop_front();
    let (status, answer) = if let Err(why) = &signature {
        let body = match state.kind {
            Kind::Writer => json!({ "message": why }),
            Kind::AppSync { .. } => {
                json!({"errors": [{"errorType": "UnauthorizedException", "message": why}]})
            }
        };
        (Some(403), body.to_string())
    } else {
        match scripted {
            Some(Reply::Status(s, b)) => (Some(s), b),
            Some(Reply::Hang) => (None, String::new()),
            Some(Reply::Normal) | None => (Some(normal.0), normal.1),
        }
    };
    lock(&state.seen).push(Recorded {
        path: uri.path().to_owned(),
        body: json,
        signature,
        problems,
        status,
    });
    let Some(status) = status else {
        return std::future::pending().await;
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, [("content-type", "application/json")], answer).into_response()
}

/// The writer API's normal answer: 200 with the counts, or 400 for a body it cannot take.
fn writer_answer(body: &[u8]) -> (Vec<String>, (u16, String)) {
    match serde_json::from_slice::<WriteRequest>(body) {
        Ok(req) => {
            let races: std::collections::BTreeSet<&str> = req
                .updates
                .iter()
                .map(|u| u.race_id.as_str())
                .chain(req.race_states.iter().map(|s| s.race_id.as_str()))
                .collect();
            let mut problems = Vec::new();
            if body.len() > crate::wire::MAX_BODY_BYTES
                || req.updates.len() > crate::wire::MAX_UPDATES_PER_REQUEST
                || req.race_states.len() > crate::wire::MAX_STATES_PER_REQUEST
            {
                problems.push("request over the wire limits".to_owned());
            }
            let resp = WriteResponse {
                updates_published: req.updates.len(),
                race_states_published: req.race_states.len(),
                races: races.len(),
                mutations: 0,
            };
            let answer = serde_json::to_string(&resp).unwrap_or_default();
            (problems, (200, answer))
        }
        Err(e) => {
            let reason = e.to_string();
            let answer = json!({"error": "bad_request", "reason": reason, "retryable": false});
            (vec![reason], (400, answer.to_string()))
        }
    }
}

/// AppSync's normal answer: the mutation's data, or a `ValidationError` (HTTP 200, as
/// AppSync does) naming what does not match the schema.
fn appsync_answer(schema: &str, req: &Value) -> (Vec<String>, (u16, String)) {
    match check_mutation(&Schema::parse(schema), req) {
        Ok((field, data)) => (
            Vec::new(),
            (200, json!({ "data": { field: data } }).to_string()),
        ),
        Err(problems) => {
            let answer = json!({"data": null, "errors": [{
                "errorType": "ValidationError", "message": problems.join("; ")
            }]});
            (problems, (200, answer.to_string()))
        }
    }
}

/// The parts of a GraphQL SDL the checks need: object and input types (field → type),
/// enums, and the mutation fields' arguments.
#[derive(Debug, Default)]
pub struct Schema {
    types: BTreeMap<String, BTreeMap<String, String>>,
    enums: BTreeMap<String, Vec<String>>,
    mutation_args: BTreeMap<String, Vec<(String, String)>>,
}

impl Schema {
    /// Parses the subset of SDL that `schema.graphql` uses (one field per line).
    pub fn parse(sdl: &str) -> Schema {
        let mut s = Schema::default();
        let mut current: Option<(String, String)> = None; // (keyword, name)
        for raw in sdl.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('"') {
                continue;
            }
            if let Some((kw, name)) = &current {
                if line == "}" {
                    current = None;
                    continue;
                }
                if kw == "enum" {
                    s.enums
                        .entry(name.clone())
                        .or_default()
                        .push(line.to_owned());
                    continue;
                }
                let (head, ty) = match line.rsplit_once("):") {
                    Some((head, ty)) => (format!("{head})"), ty),
                    None => match line.split_once(':') {
                        Some((h, t)) => (h.to_owned(), t),
                        None => continue,
                    },
                };
                let ty = ty.split('@').next().unwrap_or("").trim().replace(' ', "");
                let fname = head.split('(').next().unwrap_or("").trim().to_owned();
                if name == "Mutation" {
                    let args = head
                        .split_once('(')
                        .map(|(_, a)| a.trim_end_matches(')'))
                        .unwrap_or("");
                    let args = args
                        .split(',')
                        .filter_map(|a| a.split_once(':'))
                        .map(|(n, t)| (n.trim().to_owned(), t.trim().replace(' ', "")))
                        .collect();
                    s.mutation_args.insert(fname.clone(), args);
                }
                s.types.entry(name.clone()).or_default().insert(fname, ty);
                continue;
            }
            let mut words = line.split_whitespace();
            if let (Some(kw @ ("type" | "input" | "enum")), Some(name)) =
                (words.next(), words.next())
                && line.ends_with('{')
            {
                current = Some((kw.to_owned(), name.trim_end_matches('{').to_owned()));
            }
        }
        s
    }
}

/// The named type inside `[X!]!`-style wrappers.
fn base(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// Checks a GraphQL request against the schema: one mutation field, variables declared
/// with the argument types the schema gives and passed through, a selection of every field
/// of the result type (AppSync pushes subscribers only what the mutation selected), and
/// variables that fit the input types. Returns the field and the data a NONE resolver
/// would answer (its arguments: `{race_id, updates}` or the state).
pub fn check_mutation(schema: &Schema, req: &Value) -> Result<(String, Value), Vec<String>> {
    let mut problems = Vec::new();
    let query = req["query"].as_str().unwrap_or("");
    let vars = req["variables"].as_object().cloned().unwrap_or_default();
    let toks = tokenize(query);
    if toks.first().map(String::as_str) != Some("mutation") {
        return Err(vec!["not a mutation".to_owned()]);
    }
    let close = toks.iter().position(|t| t == ")").unwrap_or(0);
    let declared = declared_variables(&toks);
    // The mutation field and its arguments.
    let Some(fpos) = toks
        .iter()
        .skip(close)
        .position(|t| schema.mutation_args.contains_key(t))
    else {
        return Err(vec![format!(
            "no mutation field of the schema in {query:?}"
        )]);
    };
    let fpos = fpos + close;
    let field = toks[fpos].clone();
    let args = &schema.mutation_args[&field];
    for (name, ty) in args {
        check_argument(
            schema,
            (name.as_str(), ty.as_str()),
            &declared,
            &toks,
            &vars,
            &mut problems,
        );
    }
    // Selection set of the result.
    let result_ty = base(&schema.types["Mutation"][&field]).to_owned();
    let after = toks[fpos..].iter().position(|t| t == "{").map(|p| p + fpos);
    match after {
        Some(p) => {
            let (sel, _) = parse_selection(&toks, p + 1);
            check_selection(schema, &result_ty, &sel, &field, &mut problems);
        }
        None => problems.push(format!("{field} has no selection set")),
    }
    if field == "publishUpdates" {
        check_race_ids(&vars, &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let data = if args.len() == 1 {
        vars.get(&args[0].0).cloned().unwrap_or(Value::Null)
    } else {
        Value::Object(vars)
    };
    Ok((field, data))
}

/// The variable definitions, `( $name : Type ... )` after the operation name: each
/// variable's type.
fn declared_variables(toks: &[String]) -> BTreeMap<String, String> {
    let open = toks.iter().position(|t| t == "(").unwrap_or(0);
    let close = toks.iter().position(|t| t == ")").unwrap_or(0);
    let mut declared = BTreeMap::new();
    let mut i = open + 1;
    while i + 2 < close {
        if toks[i] == "$" {
            let name = toks[i + 1].clone();
            let mut j = i + 3;
            let mut ty = String::new();
            while j < close && toks[j] != "$" {
                ty.push_str(&toks[j]);
                j += 1;
            }
            declared.insert(name, ty);
            i = j;
        } else {
            i += 1;
        }
    }
    declared
}

/// One argument of the mutation field: declared with the schema's type, passed as the
/// variable of its name, and that variable's value fits the type.
fn check_argument(
    schema: &Schema,
    (name, ty): (&str, &str),
    declared: &BTreeMap<String, String>,
    toks: &[String],
    vars: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    match declared.get(name) {
        Some(d) if d == ty => {}
        Some(d) => problems.push(format!("${name} declared {d}, the schema says {ty}")),
        None => problems.push(format!("argument {name} not declared as a variable")),
    }
    let passed = toks
        .windows(4)
        .any(|w| w[0] == name && w[1] == ":" && w[2] == "$" && w[3] == name);
    if !passed {
        problems.push(format!("argument {name} is not passed as ${name}"));
    }
    match vars.get(name) {
        Some(v) => check_value(schema, ty, v, name, problems),
        None => problems.push(format!("variable {name} missing")),
    }
}

/// Every update of a `publishUpdates` is of the race its `race_id` argument names.
fn check_race_ids(vars: &Map<String, Value>, problems: &mut Vec<String>) {
    let race = vars.get("race_id").and_then(Value::as_str).unwrap_or("");
    for (k, u) in vars
        .get("updates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if u["race_id"].as_str() != Some(race) {
            problems.push(format!(
                "updates[{k}].race_id is not the race_id argument {race:?}"
            ));
        }
    }
}

fn tokenize(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in q.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if "{}()[]:$!,@=".contains(c) && c != ',' {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A selection set: field → its own selection (empty for a leaf).
#[derive(Debug, Default)]
struct Sel(BTreeMap<String, Sel>);

/// Parses a selection set; `i` is just after its `{`. Returns it and the position after
/// the matching `}`.
fn parse_selection(toks: &[String], mut i: usize) -> (Sel, usize) {
    let mut out = Sel::default();
    let mut last: Option<String> = None;
    while i < toks.len() {
        match toks[i].as_str() {
            "}" => return (out, i + 1),
            "{" => {
                let (sub, next) = parse_selection(toks, i + 1);
                if let Some(f) = &last {
                    out.0.insert(f.clone(), sub);
                }
                i = next;
            }
            t => {
                out.0.entry(t.to_owned()).or_default();
                last = Some(t.to_owned());
                i += 1;
            }
        }
    }
    (out, i)
}

/// Every field of `ty`, and of the object types below it, must be selected, and nothing
/// else.
fn check_selection(schema: &Schema, ty: &str, sel: &Sel, at: &str, problems: &mut Vec<String>) {
    let Some(fields) = schema.types.get(ty) else {
        return;
    };
    for (name, fty) in fields {
        match sel.0.get(name) {
            Some(sub) => check_selection(schema, base(fty), sub, &format!("{at}.{name}"), problems),
            None => problems.push(format!("{at} does not select {ty}.{name}")),
        }
    }
    for name in sel.0.keys() {
        if !fields.contains_key(name) {
            problems.push(format!("{at} selects {name}, which {ty} does not have"));
        }
    }
}

/// Checks a variable's value against a GraphQL input type.
fn check_value(schema: &Schema, ty: &str, v: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(inner) = ty.strip_suffix('!') {
        if v.is_null() {
            problems.push(format!("{at} is null but {ty} is required"));
            return;
        }
        return check_value(schema, inner, v, at, problems);
    }
    if v.is_null() {
        return;
    }
    if let Some(item) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        match v.as_array() {
            Some(a) => a
                .iter()
                .enumerate()
                .for_each(|(k, x)| check_value(schema, item, x, &format!("{at}[{k}]"), problems)),
            None => problems.push(format!("{at} is not a list")),
        }
        return;
    }
    let ok = match ty {
        "Int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Float" => v.is_number(),
        "String" | "ID" => v.is_string(),
        "Boolean" => v.is_boolean(),
        "AWSJSON" => v
            .as_str()
            .is_some_and(|s| serde_json::from_str::<Value>(s).is_ok()),
        _ => {
            if let Some(values) = schema.enums.get(ty) {
                v.as_str().is_some_and(|s| values.iter().any(|e| e == s))
            } else if let Some(fields) = schema.types.get(ty) {
                let Some(obj) = v.as_object() else {
                    problems.push(format!("{at} is not an object"));
                    return;
                };
                for (name, fty) in fields {
                    check_value(
                        schema,
                        fty,
                        obj.get(name).unwrap_or(&Value::Null),
                        &format!("{at}.{name}"),
                        problems,
                    );
                }
                for k in obj.keys() {
                    if !fields.contains_key(k) {
                        problems.push(format!("{at}.{k} is not a field of {ty}"));
                    }
                }
                true
            } else {
                problems.push(format!("{at}: unknown type {ty}"));
                true
            }
        }
    };
    if !ok {
        problems.push(format!("{at}: {v} is not a {ty}"));
    }
}
