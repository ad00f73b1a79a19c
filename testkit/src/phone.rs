//! The codes the console sends to phones, read where the development gateway keeps them: with
//! no SMS gateway configured an SMS is held in the outbox, code and all.

use crate::TestApp;
use domain::entities::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

impl TestApp {
    /// The 6-digit code in the newest SMS to `number`.
    pub async fn sms_code(&self, number: &str) -> String {
        let m = outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(number))
            .filter(outbox::Column::Channel.eq(proto::Channel::Sms))
            .order_by_desc(outbox::Column::CreatedAt)
            .one(&self.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no SMS to {number} in the outbox"));
        let text = domain::outbox::render(&m).body_text;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in the SMS to {number}: {text}"))
            .to_owned()
    }

    /// How many SMS the outbox holds for `number`.
    pub async fn sms_count(&self, number: &str) -> usize {
        outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq(number))
            .filter(outbox::Column::Channel.eq(proto::Channel::Sms))
            .all(&self.ctx.db)
            .await
            .unwrap()
            .len()
    }
}
