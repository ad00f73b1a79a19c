//! Tenants and users a test makes for itself, with random passwords, through `domain` as an
//! operator's tools would, instead of leaning on the demo's published sign-ins.

use crate::{console::Credentials, TestApp};
use domain::{entities::server, entities::tenant, Clock, Role};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

/// A user the test created, and the password only the test knows.
#[derive(Clone, Debug)]
pub struct Login {
    pub id: Uuid,
    pub email: String,
    pub password: String,
}

impl Credentials for Login {
    fn email(&self) -> &str {
        &self.email
    }
    fn password(&self) -> &str {
        &self.password
    }
}

/// A tenant the test created. Its users' addresses end in `@{domain}`.
#[derive(Clone, Debug)]
pub struct TenantFixture {
    pub id: Uuid,
    pub name: String,
    pub project_id: String,
    pub domain: String,
}

fn random_password() -> String {
    format!("pw-{}", Uuid::new_v4().simple())
}

impl TestApp {
    /// A tenant named `name`, with no users or servers yet.
    pub async fn create_tenant(&self, name: &str) -> TenantFixture {
        let id = Uuid::new_v4();
        let project_id = id.simple().to_string();
        let slug: String =
            name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        tenant::Entity::insert(tenant::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            project_id: Set(project_id.clone()),
            created_at: Set(self.clock.now()),
        })
        .exec(&self.ctx.db)
        .await
        .expect("create the tenant");
        TenantFixture { id, name: name.to_owned(), project_id, domain: format!("{slug}.test") }
    }

    /// A user with a random password, made by `domain::accounts::create_user`.
    pub async fn create_user(&self, tenant: Option<&TenantFixture>, role: Role, email: &str) -> Login {
        let password = random_password();
        let user = domain::accounts::create_user(&self.ctx, tenant.map(|t| t.id), email, email, role, &password)
            .await
            .unwrap_or_else(|e| panic!("create {email}: {e}"));
        // Operators must sign in to the console with a second factor, tenant admins by default:
        // they come with a console authenticator whose codes `sign_in` types (if the console
        // has its secret key to keep one).
        if matches!(role, Role::Operator | Role::TenantAdmin) && self.ctx.secret_key.is_some() {
            self.give_console_authenticator(user.id).await;
        }
        Login { id: user.id, email: user.email, password }
    }

    /// An operator of the provider, `{name}@hostguard.test`.
    pub async fn create_operator(&self, name: &str) -> Login {
        self.create_user(None, Role::Operator, &format!("{name}@hostguard.test")).await
    }

    /// Writes servers (e.g. [`crate::ready_servers`]) straight to the database.
    pub async fn insert_servers(&self, rows: Vec<server::ActiveModel>) {
        server::Entity::insert_many(rows).exec_without_returning(&self.ctx.db).await.expect("insert servers");
    }
}

impl TenantFixture {
    /// A tenant admin, `{name}@{domain}`.
    pub async fn admin(&self, app: &TestApp, name: &str) -> Login {
        app.create_user(Some(self), Role::TenantAdmin, &format!("{name}@{}", self.domain)).await
    }

    /// An end user, `{name}@{domain}`.
    pub async fn end_user(&self, app: &TestApp, name: &str) -> Login {
        app.create_user(Some(self), Role::EndUser, &format!("{name}@{}", self.domain)).await
    }
}
