//! `server` (or `server serve`) runs the console; `server migrate` applies migrations and exits.

use domain::{lockout::LockoutPolicy, Role, SystemClock};
use leptos::prelude::get_configuration;
use server::config::Config;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    server::init_tracing();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match command.as_str() {
        "migrate" => {
            let db = domain::db::connect(&config.database_url).await.unwrap_or_else(|e| fail(e));
            domain::db::migrate(&db).await.unwrap_or_else(|e| fail(e));
            println!("migrations applied to {}", config.database_url.redacted());
        }
        "serve" => serve(config).await,
        other => {
            eprintln!("unknown command {other:?}; use `serve` (the default) or `migrate`");
            std::process::exit(2);
        }
    }
}

async fn serve(config: Config) {
    let mut leptos_options = get_configuration(None).unwrap_or_else(|e| fail(e)).leptos_options;
    leptos_options.site_addr = config.listen;
    // cargo-leptos names the wasm, JS and CSS by their hashes (`hash-files` in Cargo.toml) and
    // lists them in hash.txt beside the binary; serve those names when it is there.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        leptos_options.hash_files = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&*leptos_options.hash_file).is_file()))
            .unwrap_or(false);
    }
    let console = server::build(&config, leptos_options, Arc::new(SystemClock), LockoutPolicy::default())
        .await
        .unwrap_or_else(|e| fail(e));
    if config.demo {
        print_demo_sign_ins(console.demo_created, &config.public_url);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .unwrap_or_else(|e| fail(format!("cannot listen on {}: {e}", config.listen)));
    tracing::info!("HostGuard console on {} (database {})", config.public_url, config.database_url.redacted());
    println!("HostGuard console: {}", config.public_url);
    server::serve::serve(listener, console.router, config.limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .unwrap_or_else(|e| fail(e));
}

fn print_demo_sign_ins(created_now: bool, public_url: &str) {
    let when = if created_now { "created now" } else { "already in the database" };
    println!("Demo data ({when}). Sign in with:");
    for s in domain::demo::sign_ins() {
        let role = match s.role {
            Role::Operator => "operator",
            Role::TenantAdmin => "tenant admin",
            Role::EndUser => "end user",
        };
        let tenant = s.tenant.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
        println!("  {role:<13}{tenant:<20} {:<28} {}", s.email, s.password);
    }
    println!("The operator and tenant admins also give a code from an authenticator app with these secret keys:");
    for (email, seed) in domain::demo::CONSOLE_SEEDS {
        println!("  {email:<28} {seed}");
    }
    println!(
        "End users set up their first sign-in method only from an invitation link. Acme's have one, valid for 24 hours \
         from when the demo data was made (later, their admin sends a new one from Users):"
    );
    for (email, path) in domain::demo::invitation_links() {
        println!("  {email:<28} {}{path}", public_url.trim_end_matches('/'));
    }
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("{e}");
    std::process::exit(1);
}
