pub mod outbox;
pub mod tenants;
