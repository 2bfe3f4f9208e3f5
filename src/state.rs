//! What every handler can reach, handed in through `web::Data<AppState>`.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::auth::passwords::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::email::EmailTemplates;

pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub keys: Arc<JwtKeys>,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub templates: EmailTemplates,
}
