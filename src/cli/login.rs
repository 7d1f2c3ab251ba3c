//! `bosun login` and `bosun logout`: registry credentials for this user, kept in
//! `~/.config/bosun/auth.json` (or `$BOSUN_CONFIG/auth.json`), mode 0600, and sent to the agent
//! with each pull and push.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use agent::proto;
use agent::registry::auth::{AuthStore, Credential, registry_key};
use agent::registry::{Settings, check_login};
use anyhow::Context;
use clap::Args;

/// Docker Hub, the default registry.
const DEFAULT_REGISTRY: &str = "docker.io";

/// Arguments of `login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The registry (host[:port]); default Docker Hub.
    pub registry: Option<String>,
    /// User name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password or token (prefer --password-stdin).
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from STDIN.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Arguments of `logout`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The registry (host[:port]); default Docker Hub.
    pub registry: Option<String>,
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `login`: checks the credentials against the registry, then stores them.
pub(super) fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_key(args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY));
    if args.password.is_some() && args.password_stdin {
        anyhow::bail!("--password and --password-stdin are mutually exclusive");
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            anyhow::bail!("--password-stdin needs a user name: give -u USER")
        }
        None => prompt("Username: ")?,
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut text)
            .context("read the password from stdin")?;
        text.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "cannot prompt for a password: stdin is not a terminal; use --password-stdin"
            );
        }
        prompt("Password: ")?
    };
    if username.is_empty() || password.is_empty() {
        anyhow::bail!("user name and password must not be empty");
    }
    let auth = proto::RegistryAuth {
        username: username.clone(),
        password: password.clone(),
        identity_token: String::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(check_login(&Settings::from_env(), &registry, &auth))
        .with_context(|| format!("login to {registry} failed"))?;
    let store = AuthStore::default_location()?;
    store.set(&registry, Credential { username, password })?;
    eprintln!("Credentials saved in {}", store.path().display());
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

/// Runs `logout`.
pub(super) fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_key(args.registry.as_deref().unwrap_or(DEFAULT_REGISTRY));
    if AuthStore::default_location()?.remove(&registry)? {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(ExitCode::SUCCESS)
}
