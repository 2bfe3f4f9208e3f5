//! The database of one test: a temporary SQLite file, or with
//! `TEST_DATABASE_URL=postgres://…` a PostgreSQL database of its own that is
//! dropped when the test ends.

use diesel::{Connection, PgConnection, RunQueryDsl};

pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::postgres(admin_url),
            _ => Self::sqlite(),
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = dir.path().join("roster.db").display().to_string();
        TestDatabase {
            url,
            postgres: None,
            _dir: Some(dir),
        }
    }

    fn postgres(admin_url: String) -> Self {
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        TestDatabase {
            url: format!("{base}/{name}"),
            postgres: Some((admin_url.clone(), name)),
            _dir: None,
        }
    }

    /// Runs SQL as the PostgreSQL superuser (fault injection).
    pub fn admin_sql(&self, sql: &str) {
        let (admin_url, _) = self.postgres.as_ref().expect("a PostgreSQL test");
        let mut admin = PgConnection::establish(admin_url).expect("admin connection");
        diesel::sql_query(sql)
            .execute(&mut admin)
            .expect("admin SQL");
    }

    pub fn name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}
