//! Accounts from the command line and the demo's sign-ins: creating users with a role and a
//! binding, minting API tokens for integrations, and the four demo users loaded with the demo data.

use anyhow::Context;
use store::{NewUser, Principal, Role, Store};

/// Password of the demo users (only ever created together with the demo data, on an empty
/// database); the README lists them.
pub const DEMO_PASSWORD: &str = "demo-password-2026";

/// Checks a name and password and creates a user with them; the name is stored normalised, the
/// form sign-in looks it up by.
pub async fn add_user(
    store: &Store,
    username: &str,
    password: &str,
    role: Role,
    profile_id: Option<i64>,
    region_code: Option<String>,
) -> anyhow::Result<Principal> {
    let username = accounts::normalise_username(username);
    anyhow::ensure!(
        !username.is_empty() && accounts::oversized_sign_in_field(&username, password).is_none(),
        "the user name needs 1 to {} characters and the password at most {} bytes / \
         用户名须为 1 至 {} 个字符，密码不超过 {} 字节",
        accounts::MAX_USERNAME_CHARS,
        accounts::MAX_PASSWORD_BYTES,
        accounts::MAX_USERNAME_CHARS,
        accounts::MAX_PASSWORD_BYTES
    );
    anyhow::ensure!(
        password.chars().count() >= accounts::MIN_PASSWORD_CHARS,
        "the password needs at least {} characters / 密码至少 {} 个字符",
        accounts::MIN_PASSWORD_CHARS,
        accounts::MIN_PASSWORD_CHARS
    );
    match role {
        Role::Enterprise | Role::Citizen => {
            let id =
                profile_id.context("enterprise and citizen users need --profile / 需绑定画像")?;
            let bound = store.profile(id).await.context("the bound profile")?;
            anyhow::ensure!(
                (role == Role::Enterprise)
                    == (bound.profile.kind() == profiles::ProfileKind::Enterprise),
                "profile {id} is not of the user's kind / 画像类型与用户角色不符"
            );
        }
        Role::Staff => {
            let region = region_code
                .as_deref()
                .context("staff users need --region / 工作人员需指定区域")?;
            anyhow::ensure!(
                profiles::codes::known_regions()
                    .iter()
                    .any(|r| r.code == region),
                "unknown region {region} / 区域代码无效"
            );
        }
        Role::Admin => {}
    }
    let password_hash = accounts::hash_password(password).await?;
    Ok(store
        .create_user(
            &NewUser {
                display_name: username.clone(),
                username,
                password_hash,
                role,
                profile_id,
                region_code,
            },
            "cli",
        )
        .await?)
}

/// Mints an API token for `username`; only its hash is stored, so it is shown once.
pub async fn create_token(store: &Store, username: &str, name: &str) -> anyhow::Result<String> {
    let (_, principal) = store
        .credentials(&accounts::normalise_username(username))
        .await?
        .with_context(|| format!("no enabled user {username} / 用户不存在"))?;
    let token = accounts::new_secret()?;
    store
        .create_api_token(
            principal.user_id,
            name,
            &accounts::secret_hash(&token),
            "cli",
        )
        .await?;
    Ok(token)
}

/// The demo's sign-ins: an administrator, staff of Haidian district, and an enterprise and a
/// citizen bound to the first demo profiles of their kind.
pub async fn add_demo_users(store: &Store) -> anyhow::Result<()> {
    let first = |kind: profiles::ProfileKind| {
        let store = store.clone();
        async move {
            let page = store
                .list_profiles(
                    &store::ProfileFilter {
                        kind: Some(kind),
                        ..Default::default()
                    },
                    store::Paging {
                        page: 1,
                        per_page: 1,
                    },
                )
                .await?;
            anyhow::Ok(page.items.first().map(|p| p.id))
        }
    };
    let enterprise = first(profiles::ProfileKind::Enterprise).await?;
    let citizen = first(profiles::ProfileKind::Citizen).await?;
    add_user(store, "admin", DEMO_PASSWORD, Role::Admin, None, None).await?;
    add_user(
        store,
        "staff-haidian",
        DEMO_PASSWORD,
        Role::Staff,
        None,
        Some("110108".to_owned()),
    )
    .await?;
    if let Some(id) = enterprise {
        add_user(
            store,
            "enterprise",
            DEMO_PASSWORD,
            Role::Enterprise,
            Some(id),
            None,
        )
        .await?;
    }
    if let Some(id) = citizen {
        add_user(
            store,
            "citizen",
            DEMO_PASSWORD,
            Role::Citizen,
            Some(id),
            None,
        )
        .await?;
    }
    Ok(())
}
