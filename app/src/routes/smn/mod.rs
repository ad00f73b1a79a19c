pub mod links;
pub mod topic_detail;
pub mod topics;
