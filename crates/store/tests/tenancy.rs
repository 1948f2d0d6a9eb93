//! Tenancy in one form: every repository function that reads or changes a workspace's
//! datasets, uploads, jobs, forecasts, hours or ledger takes an `Access` as its first
//! argument, runs its queries under it (row-level security by membership on PostgreSQL) and
//! limits them to the access's workspace (the filter, the whole of tenancy on SQLite), or is
//! the server's own work. This test reads the repositories' source and fails when a public
//! function lacks the argument, does not use it, or does not scope by workspace.

const REPOSITORIES: &[(&str, &str)] = &[
    ("datasets.rs", include_str!("../src/datasets.rs")),
    ("uploads.rs", include_str!("../src/uploads.rs")),
    ("jobs.rs", include_str!("../src/jobs.rs")),
    ("forecasts.rs", include_str!("../src/forecasts.rs")),
    ("ledger.rs", include_str!("../src/ledger.rs")),
];

/// Each public async method of a repository: its file, name, signature and body.
fn repository_functions() -> Vec<(&'static str, String, String, String)> {
    let mut found = Vec::new();
    for (file, source) in REPOSITORIES {
        let mut rest = *source;
        while let Some(at) = rest.find("\n    pub async fn ") {
            rest = &rest[at + 1..];
            let name_start = "    pub async fn ".len();
            let name_end = rest[name_start..].find('(').map(|i| i + name_start).unwrap();
            let name = rest[name_start..name_end].to_owned();
            let body_start = rest.find(" {\n").unwrap();
            let body_end = rest[body_start..].find("\n    }\n").unwrap() + body_start;
            let signature = rest[..body_start].to_owned();
            let body = rest[body_start..body_end].to_owned();
            found.push((*file, name, signature, body));
        }
    }
    found
}

#[test]
fn every_repository_function_takes_the_access_and_queries_under_it() {
    let functions = repository_functions();
    assert!(functions.len() >= 30, "the repositories were read: {} functions", functions.len());
    let mut lacking = Vec::new();
    for (file, name, signature, body) in &functions {
        let first = signature
            .split_once("&self")
            .map(|(_, after)| after.trim_start_matches([',', ' ', '\n']))
            .unwrap_or_default();
        if !first.starts_with("access: Access") {
            lacking.push(format!("{file}: {name} does not take `access: Access` first"));
            continue;
        }
        let uses = body.contains("transaction!(&self.db, access")
            || body.contains("(access,")
            || body.contains("(access)");
        if !uses {
            lacking.push(format!("{file}: {name} takes an access it does not query under"));
        }
        if body.contains("Access::System")
            || body.contains("Access::person(")
            || body.contains("Access::member(")
        {
            lacking.push(format!("{file}: {name} queries under an access of its own choosing"));
        }
        let scoped = body.contains("workspace_scope()")
            || body.contains("require_reader(workspace)")
            || body.contains("access.owner(workspace)")
            || body.contains("require_system()")
            // A function answered by another that is scoped (reported when that one is not).
            || body.contains("self.get(access, workspace");
        if !scoped {
            lacking.push(format!("{file}: {name} does not limit its rows to the workspace"));
        }
    }
    assert!(lacking.is_empty(), "{}", lacking.join("\n"));
}

#[test]
fn every_workspace_table_has_row_level_security_by_membership() {
    let migration = include_str!("../migrations/postgres/20261202000001_workspaces.sql");
    for table in [
        "datasets",
        "dataset_versions",
        "uploads",
        "upload_chunks",
        "jobs",
        "forecasts",
        "hour_balances",
        "hour_ledger",
    ] {
        let read = format!(
            "CREATE POLICY member_read ON {table} FOR SELECT USING (app_can_read(workspace_id));"
        );
        let write = format!(
            "CREATE POLICY member_write ON {table}\n    USING (app_can_write(workspace_id)) \
             WITH CHECK (app_can_write(workspace_id));"
        );
        assert!(migration.contains(&read), "{table} lacks its read policy");
        assert!(migration.contains(&write), "{table} lacks its write policy");
        assert!(migration.contains(&format!("DROP POLICY tenant ON {table};")), "{table}");
    }
}

#[test]
fn the_check_reads_a_function_without_the_argument_as_lacking_it() {
    // The reader itself: a function shaped like the ones above but without the argument.
    let source = "impl X {\n    pub async fn open_count(&self, user: UserId) -> Result<u64> {\n        \
                  let n = transaction!(&self.db, Access::person(user), read, |conn| { 1 });\n    }\n}\n";
    let first = source.split_once("&self").unwrap().1.trim_start_matches([',', ' ']);
    assert!(!first.starts_with("access: Access"));
}
