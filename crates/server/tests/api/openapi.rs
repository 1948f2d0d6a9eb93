//! The OpenAPI document and Swagger UI: every route of the API is documented, every
//! reference resolves, the UI loads without inline scripts, and what the document says an
//! answer looks like is what the API sends.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// Every operation of the API. A route added without documentation, or documentation left
/// behind by a removed route, fails the test that compares this list with the document.
const OPERATIONS: &[&str] = &[
    "POST /api/v1/auth/signup",
    "POST /api/v1/auth/signup/confirm",
    "POST /api/v1/auth/signin",
    "POST /api/v1/auth/signout",
    "POST /api/v1/auth/token",
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/auth/magic-link",
    "POST /api/v1/auth/magic-link/confirm",
    "POST /api/v1/auth/verify-email",
    "POST /api/v1/auth/email-change/confirm",
    "GET /api/v1/me",
    "DELETE /api/v1/me",
    "POST /api/v1/me/password",
    "POST /api/v1/me/email",
    "GET /api/v1/sessions",
    "DELETE /api/v1/sessions/{id}",
    "GET /api/v1/api-keys",
    "POST /api/v1/api-keys",
    "DELETE /api/v1/api-keys/{id}",
    "GET /api/v1/audit",
    "GET /api/v1/hours",
    "GET /api/v1/datasets",
    "POST /api/v1/datasets",
    "GET /api/v1/datasets/{id}",
    "PATCH /api/v1/datasets/{id}",
    "DELETE /api/v1/datasets/{id}",
    "POST /api/v1/datasets/preview",
    "GET /api/v1/datasets/events",
    "GET /api/v1/datasets/{id}/versions",
    "GET /api/v1/datasets/{id}/profile",
    "GET /api/v1/datasets/{id}/export",
    "GET /api/v1/datasets/{id}/rejects",
    "GET /api/v1/datasets/{id}/rows",
    "GET /api/v1/datasets/{id}/series/{series}/window",
    "GET /api/v1/datasets/{id}/series/{series}/resample",
    "POST /api/v1/uploads",
    "GET /api/v1/uploads/{id}",
    "PATCH /api/v1/uploads/{id}",
    "DELETE /api/v1/uploads/{id}",
    "POST /api/v1/uploads/{id}/complete",
    "GET /api/v1/forecasts",
    "POST /api/v1/forecasts",
    "GET /api/v1/forecasts/{id}",
    "DELETE /api/v1/forecasts/{id}",
    "GET /api/v1/forecasts/{id}/csv",
    "GET /api/v1/forecasts/{id}/export",
    "GET /api/v1/exports",
    "POST /api/v1/exports",
    "GET /api/v1/exports/{id}",
    "DELETE /api/v1/exports/{id}",
    "GET /api/v1/exports/{id}/download",
    "GET /api/v1/jobs",
    "GET /api/v1/jobs/events",
    "GET /api/v1/jobs/{id}",
    "POST /api/v1/jobs/{id}/cancel",
    "GET /api/v1/usage",
    "GET /api/v1/billing/packages",
    "POST /api/v1/billing/checkout",
    "GET /api/v1/billing/payments",
    "POST /api/v1/billing/webhook",
    "GET /api/v1/admin/jobs",
    "POST /api/v1/admin/jobs/{id}/cancel",
    "POST /api/v1/admin/jobs/{id}/retry",
    "GET /api/v1/admin/users",
    "POST /api/v1/admin/users/{id}/disable",
    "POST /api/v1/admin/users/{id}/enable",
    "POST /api/v1/admin/users/{id}/role",
    "POST /api/v1/admin/users/{id}/hours",
];

/// Operations anyone may call, without a credential.
const PUBLIC: &[&str] = &[
    "POST /api/v1/auth/signup",
    "POST /api/v1/auth/signup/confirm",
    "POST /api/v1/auth/signin",
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/auth/magic-link",
    "POST /api/v1/auth/magic-link/confirm",
    "POST /api/v1/auth/verify-email",
    "POST /api/v1/auth/email-change/confirm",
    "POST /api/v1/billing/webhook",
];

const HTTP_METHODS: &[&str] =
    &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn openapi(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.expect("the document is JSON")
}

/// Each operation of the document as `METHOD /path`, with the operation.
fn operations(spec: &Value) -> BTreeMap<String, &Value> {
    let mut found = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths is an object") {
        for (method, operation) in item.as_object().expect("a path item is an object") {
            assert!(HTTP_METHODS.contains(&method.as_str()), "{path} has a {method:?} entry");
            found.insert(format!("{} {path}", method.to_uppercase()), operation);
        }
    }
    found
}

/// Every `$ref` anywhere in `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation_of_the_api() {
    let app = spawn_app().await;
    let spec = openapi(&app).await;

    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1."), "{}", spec["openapi"]);
    assert_eq!(spec["info"]["title"], "Variosync API");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!spec["info"]["description"].as_str().unwrap().is_empty());
    for server in spec["servers"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let url = server["url"].as_str().unwrap();
        assert!(url.starts_with('/'), "servers name no host: {url}");
    }

    let operations = operations(&spec);
    let documented: BTreeSet<&str> = operations.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = OPERATIONS.iter().copied().collect();
    assert_eq!(documented, expected, "the document and the list of operations differ");

    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], variosync_web::SESSION_COOKIE);
    let tags: BTreeSet<&str> =
        spec["tags"].as_array().unwrap().iter().map(|tag| tag["name"].as_str().unwrap()).collect();

    let mut operation_ids = BTreeSet::new();
    for (name, operation) in &operations {
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{name}: no id"));
        assert!(operation_ids.insert(id), "{name}: operationId {id} is used twice");
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{name}: no summary");
        let tag = operation["tags"][0].as_str().unwrap_or_else(|| panic!("{name}: no tag"));
        assert!(tags.contains(tag), "{name}: tag {tag} is not declared");

        // Every parameter of the path is declared, and nothing else is in the path.
        let path = name.split_once(' ').unwrap().1;
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let parameters = operation["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
        let declared: BTreeSet<&str> = parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(declared, in_template, "{name}: path parameters");
        for parameter in parameters {
            assert!(parameter["schema"].is_object(), "{name}: {parameter} has no schema");
            if parameter["in"] == "path" {
                assert_eq!(parameter["required"], true, "{name}: {parameter}");
            }
        }

        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{name}: no success answer"
        );
        for (status, response) in responses {
            assert!(response["description"].is_string(), "{name} {status}: no description");
            if status.starts_with('4') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Error", "{name} {status}: error shape");
            }
        }

        let security = operation["security"].as_array().map(Vec::as_slice).unwrap_or_default();
        if PUBLIC.contains(&name.as_str()) {
            assert!(security.is_empty(), "{name} needs no credential");
        } else {
            let schemes: BTreeSet<&str> = security
                .iter()
                .flat_map(|requirement| requirement.as_object().unwrap().keys())
                .map(String::as_str)
                .collect();
            assert_eq!(schemes, BTreeSet::from(["bearer", "session"]), "{name}: security");
            assert!(responses.contains_key("401"), "{name}: answers 401 without a credential");
            assert!(responses.contains_key("429"), "{name}: answers 429 past the rate limit");
        }
    }

    // The rules the server enforces beyond a value's type are stated.
    let schemas = &spec["components"]["schemas"];
    let pattern = schemas["DatasetChange"]["properties"]["name"]["pattern"].as_str().unwrap();
    assert_eq!(
        pattern,
        variosync_domain::names::json_pattern(variosync_domain::names::NameKind::Dataset)
    );
    assert!(schemas["NewUpload"]["properties"]["size"]["maximum"].is_u64());
    let window = &operations["GET /api/v1/datasets/{id}/series/{series}/window"];
    let from = window["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "from");
    assert_eq!(from.unwrap()["schema"]["anyOf"].as_array().map(Vec::len), Some(3));

    // The parts of an answer that need their own description are described.
    let datasets = &operations["POST /api/v1/datasets"];
    let upload = &datasets["requestBody"]["content"];
    assert!(upload["multipart/form-data"]["schema"].is_object(), "{upload}");
    assert!(upload.get("*/*").is_some(), "any raw body: {upload}");
    assert!(datasets["responses"].get("413").is_some());
    let chunk = &operations["PATCH /api/v1/uploads/{id}"];
    assert!(chunk["requestBody"]["content"].get("application/offset+octet-stream").is_some());
    let offset = chunk["parameters"].as_array().unwrap().iter().find(|p| p["in"] == "header");
    assert_eq!(offset.unwrap()["name"], "Upload-Offset");

    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_reference_in_the_openapi_document_resolves_to_a_schema() {
    let app = spawn_app().await;
    let spec = openapi(&app).await;
    let schemas = spec["components"]["schemas"].as_object().expect("components.schemas");
    let mut found = Vec::new();
    references(&spec, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a reference to a schema"));
        assert!(schemas.contains_key(name), "{target} resolves to nothing");
    }
    assert_eq!(schemas["Error"]["required"], serde_json::json!(["code", "message"]));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn swagger_ui_is_served_and_needs_no_inline_script() {
    let app = spawn_app().await;
    let response = app.get("/api/docs").await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/api/docs/");

    let response = app.get("/api/docs/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    // The site's policy, unchanged: only scripts from here, never inline ones.
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"swagger-ui\""), "{html}");
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for script in &scripts {
        let tag = &script[..script.find('>').unwrap()];
        assert!(tag.contains("src="), "an inline script: <script{tag}>");
        let source = tag.split("src=\"").nth(1).unwrap().split('"').next().unwrap();
        let source = format!("/api/docs/{}", source.trim_start_matches("./"));
        let response = app.get(&source).await;
        assert_eq!(response.status(), StatusCode::OK, "{source}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.contains("javascript"), "{source}: {content_type}");
    }
    assert!(!html.contains("<style"), "no inline style block");

    let initializer = app.get("/api/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(initializer.contains("/api/v1/openapi.json"), "{initializer}");
    app.stop().await.unwrap();
}

/// The schema a `$ref` points at, or the schema itself.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(target) => {
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    }
}

/// Where `value` differs from `schema`: a wrong type, a missing required key, or a key the
/// document does not mention.
fn mismatches(spec: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let matching = choices
            .iter()
            .filter(|choice| {
                let mut inner = Vec::new();
                mismatches(spec, choice, value, at, &mut inner);
                inner.is_empty()
            })
            .count();
        if matching == 0 {
            found.push(format!("{at}: {value} matches none of {schema}"));
        }
        return;
    }
    // A composition (`allOf`) is one object with the properties of all its parts.
    let parts: Vec<&Value> = match schema["allOf"].as_array() {
        Some(parts) => parts.iter().map(|part| resolve(spec, part)).collect(),
        None => vec![schema],
    };
    for part in &parts {
        match &part["type"] {
            Value::String(name) if !type_matches(name, value) => {
                found.push(format!("{at}: {value} is not of type {name}"));
                return;
            }
            Value::Array(names)
                if !names.iter().any(|n| type_matches(n.as_str().unwrap(), value)) =>
            {
                found.push(format!("{at}: {value} is not of types {names:?}"));
                return;
            }
            _ => {}
        }
        if let Some(values) = part["enum"].as_array()
            && !values.contains(value)
        {
            found.push(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        let mut properties = serde_json::Map::new();
        for part in &parts {
            for key in part["required"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if !object.contains_key(key.as_str().unwrap()) {
                    found.push(format!("{at}: the required key {key} is missing"));
                }
            }
            if let Some(documented) = part["properties"].as_object() {
                properties.extend(documented.clone());
            }
        }
        if properties.is_empty() {
            return;
        }
        for (key, item) in object {
            match properties.get(key) {
                Some(property) => mismatches(spec, property, item, &format!("{at}.{key}"), found),
                None => found.push(format!("{at}: the key {key:?} is not documented")),
            }
        }
    } else if let Some(items) = value.as_array() {
        for (index, item) in items.iter().enumerate() {
            if let Some(schema) = parts.iter().map(|part| &part["items"]).find(|s| s.is_object()) {
                mismatches(spec, schema, item, &format!("{at}[{index}]"), found);
            }
        }
    }
}

/// Checks a real answer against what the document says `operation` answers with its status.
async fn assert_documented(spec: &Value, operation: &str, response: reqwest::Response) -> Value {
    let (method, path) = operation.split_once(' ').unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    let documented = &spec["paths"][path][method.to_lowercase()]["responses"][status.as_str()];
    assert!(documented.is_object(), "{operation} does not document the answer {status}");
    let content = documented["content"].as_object().expect("the answer has content");
    let (_, media) = content
        .iter()
        .find(|(name, _)| content_type.starts_with(name.as_str()))
        .unwrap_or_else(|| panic!("{operation} {status}: {content_type} is not documented"));
    let body: Value = response.json().await.unwrap();
    let mut found = Vec::new();
    mismatches(spec, &media["schema"], &body, "body", &mut found);
    assert!(found.is_empty(), "{operation} {status}:\n{}\n{body:#}", found.join("\n"));
    body
}

/// Daily prices of one share, with one unreadable row.
fn prices() -> String {
    let mut file = String::from("Date,Open,High,Low,Close,Volume\n");
    for day in 1..=28 {
        if day == 5 {
            file.push_str("2024-02-05,oops,1,1,1,1\n");
            continue;
        }
        let open = 100.0 + f64::from(day);
        let (high, low, close) = (open + 2.0, open - 1.5, open + 0.5);
        file.push_str(&format!("2024-02-{day:02},{open},{high},{low},{close},{}\n", day * 1000));
    }
    file
}

#[tokio::test]
async fn what_the_document_says_the_answers_look_like_is_what_the_api_sends() {
    let app = spawn_app().await;
    let spec = openapi(&app).await;
    let browser = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&browser, "write").await;
    let call = |method: Method, path: &str| app.with_key(method, path, &key);

    let response = call(Method::POST, "/api/v1/datasets?name=Prices&series=ACME&mode=lenient")
        .header("content-type", "text/csv")
        .body(prices())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let imported = assert_documented(&spec, "POST /api/v1/datasets", response).await;
    assert_eq!(imported["rejects"]["count"], 1);
    let id = imported["dataset"]["id"].as_str().unwrap().to_owned();

    let response = call(Method::GET, &format!("/api/v1/datasets/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let shown = assert_documented(&spec, "GET /api/v1/datasets/{id}", response).await;
    assert_eq!(shown["version"]["series"], serde_json::json!(["ACME"]));

    let window = format!("/api/v1/datasets/{id}/series/ACME/window");
    for query in ["?points=10", "?candles=true&points=10"] {
        let response = call(Method::GET, &format!("{window}{query}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let operation = "GET /api/v1/datasets/{id}/series/{series}/window";
        assert_documented(&spec, operation, response).await;
    }
    let resample = format!("/api/v1/datasets/{id}/series/ACME/resample?interval=1w");
    let response = call(Method::GET, &resample).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_documented(&spec, "GET /api/v1/datasets/{id}/series/{series}/resample", response).await;
    let rows = format!("/api/v1/datasets/{id}/rows?limit=5");
    let response = call(Method::GET, &rows).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_documented(&spec, "GET /api/v1/datasets/{id}/rows", response).await;

    for (operation, path) in [
        ("GET /api/v1/datasets", "/api/v1/datasets".to_owned()),
        ("GET /api/v1/datasets/{id}/versions", format!("/api/v1/datasets/{id}/versions")),
        ("GET /api/v1/me", "/api/v1/me".to_owned()),
        ("GET /api/v1/hours", "/api/v1/hours".to_owned()),
        ("GET /api/v1/api-keys", "/api/v1/api-keys".to_owned()),
        ("GET /api/v1/audit", "/api/v1/audit".to_owned()),
    ] {
        let response = call(Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{operation}");
        assert_documented(&spec, operation, response).await;
    }
    let response = app.as_browser(Method::GET, "/api/v1/sessions", &browser).send().await.unwrap();
    assert_documented(&spec, "GET /api/v1/sessions", response).await;

    let response = call(Method::POST, "/api/v1/uploads")
        .json(&serde_json::json!({ "file_name": "prices.csv", "size": 10 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_documented(&spec, "POST /api/v1/uploads", response).await;

    // Errors take the documented shape too.
    let missing = format!("/api/v1/datasets/{}", uuid::Uuid::now_v7());
    let response = call(Method::GET, &missing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_documented(&spec, "GET /api/v1/datasets/{id}", response).await;
    let response = app.get("/api/v1/hours").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_documented(&spec, "GET /api/v1/hours", response).await;
    app.stop().await.unwrap();
}
