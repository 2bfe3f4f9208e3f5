//! What every use case can reach: the pool, settings, keys, the hasher, the
//! clock, the email templates and the account pages. Cheap to clone (every part is shared).

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::auth::passwords::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, DbConnection};
use crate::email::EmailTemplates;
use crate::error::ApiError;
use crate::pages::PageTemplates;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub keys: Arc<JwtKeys>,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub templates: EmailTemplates,
    pub pages: PageTemplates,
}

impl AppState {
    /// Runs `work` with a pooled connection off the async workers.
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &AppState) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        self.db.run(move |conn| work(conn, &state)).await
    }

    /// Runs `work` in one write transaction off the async workers: it all
    /// commits, or nothing does.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &AppState) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        self.db.write(move |conn| work(conn, &state)).await
    }
}
