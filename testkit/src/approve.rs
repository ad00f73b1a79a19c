//! Push requests for the approval side's tests, written straight to `push_requests` as the
//! login side would write them when a person chooses Push at the SSH prompt.

use crate::{Login, TestApp};
use chrono::Duration;
use domain::{
    entities::{push_request, user},
    Clock,
};
use proto::push::PushStatus;
use sea_orm::EntityTrait;
use uuid::Uuid;

/// A push request as a test wants it.
#[derive(Clone, Debug)]
pub struct NewPushRequest {
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub number: i32,
    /// Seconds until it expires (the login side gives 60).
    pub expires_in_secs: i64,
}

impl Default for NewPushRequest {
    fn default() -> Self {
        Self {
            server_name: "web-01".into(),
            account: "deploy".into(),
            source_ip: "203.0.113.7".into(),
            number: 472,
            expires_in_secs: 60,
        }
    }
}

impl TestApp {
    /// A pending push request for `who`, created now by the test clock; returns its id.
    pub async fn push_request(&self, who: &Login, r: NewPushRequest) -> Uuid {
        let owner = user::Entity::find_by_id(who.id).one(&self.ctx.db).await.unwrap().expect("the user exists");
        let now = self.clock.now();
        let id = Uuid::new_v4();
        let row = push_request::Model {
            id,
            tenant_id: owner.tenant_id.expect("an end user has a tenant"),
            user_id: who.id,
            login_id: Uuid::new_v4(),
            server_name: r.server_name,
            account: r.account,
            source_ip: r.source_ip,
            number: r.number,
            status: PushStatus::Pending,
            wrong_numbers: 0,
            created_at: now,
            expires_at: now + Duration::seconds(r.expires_in_secs),
            decided_at: None,
            device_id: None,
        };
        push_request::Entity::insert(push_request::ActiveModel::from(row))
            .exec_without_returning(&self.ctx.db)
            .await
            .expect("insert a push request");
        id
    }

    /// The request as stored now.
    pub async fn push_request_row(&self, id: Uuid) -> push_request::Model {
        push_request::Entity::find_by_id(id).one(&self.ctx.db).await.unwrap().expect("the request exists")
    }
}
