//! Fresh databases in a PostgreSQL cluster, one per test (or bench run).

use sea_orm::{ConnectionTrait, Database, DbErr};

/// Creates a database with a new name in the cluster whose admin URL is `admin`, and returns
/// the URL of the new database.
pub async fn create_postgres_database(admin: &str, prefix: &str) -> Result<String, DbErr> {
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| DbErr::Custom("the PostgreSQL URL must end with a database name".into()))?;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let db = Database::connect(admin).await?;
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    db.close().await.ok();
    Ok(format!("{base}/{name}"))
}

/// A fresh database in the throwaway cluster that `scripts/test.sh` (or
/// `scripts/throwaway-postgres.sh`) starts; its admin URL is in `HOSTGUARD_TEST_POSTGRES_URL`.
pub async fn fresh_postgres_database() -> String {
    let admin = std::env::var("HOSTGUARD_TEST_POSTGRES_URL").expect(
        "HOSTGUARD_TEST_POSTGRES_URL is not set. Run the tests with scripts/test.sh, which starts a throwaway PostgreSQL 15 cluster",
    );
    create_postgres_database(&admin, "hg").await.expect("create a database in the test cluster")
}
