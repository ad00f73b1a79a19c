pub mod tenants;
pub mod outbox;
