//! The signed links in e-mails, which work without signing in: `/r/{token}` opens a pack in the
//! browser and marks it read on every channel; `/unsubscribe/{token}` stops e-mail, by a
//! confirmation page or by the one-click POST that mail clients send (RFC 8058);
//! `/confirm-contact/{token}` confirms an added contact address, once. A link is honoured only
//! while it is within its lifetime and names its record as stored; otherwise a page says why, in
//! Chinese and English.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use push::{LinkPurpose, LinkRefusal};
use store::inbox_key;

use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(read_pack))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route(
            "/confirm-contact/{token}",
            get(confirm_contact_page).post(confirm_contact),
        )
}

fn refused(refusal: LinkRefusal) -> Response {
    match refusal {
        LinkRefusal::Malformed => page(
            StatusCode::BAD_REQUEST,
            "链接无效 · Invalid link",
            "<p>该链接不完整或格式有误。较早发送的邮件中的链接已停用，请登录后在消息中心查看。</p>\
             <p>This link is incomplete or malformed. Links in older e-mails no longer work; \
             sign in and read your inbox instead.</p>",
        ),
        LinkRefusal::Forged => page(
            StatusCode::FORBIDDEN,
            "链接无效 · Invalid link",
            "<p>该链接无效或已被改动。</p><p>This link is invalid or has been altered.</p>",
        ),
        LinkRefusal::Expired => page(
            StatusCode::GONE,
            "链接已过期 · Link expired",
            "<p>该链接已过期，请登录后在消息中心查看，或在偏好设置中管理邮件。</p>\
             <p>This link has expired. Sign in to read your inbox or manage e-mail in your \
             preferences.</p>",
        ),
    }
}

/// The push and recipient of the e-mail delivery a link came with, when the link verifies and
/// names that delivery's push and recipient as stored; otherwise the page refusing it.
async fn follow(
    state: &AppState,
    purpose: LinkPurpose,
    token: &str,
) -> Result<(i64, i64), Response> {
    let signer = state.pusher.signer();
    let ids = signer
        .verify(purpose, token, state.store.now())
        .map_err(refused)?;
    let (&delivery_id, named) = ids
        .split_last()
        .ok_or_else(|| refused(LinkRefusal::Malformed))?;
    let stored = state
        .store
        .email_delivery_recipient(delivery_id)
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    // A read link names the push and the recipient, an unsubscribe link the recipient.
    match stored {
        Some((push_id, profile_id)) if named == [push_id, profile_id] || named == [profile_id] => {
            Ok((push_id, profile_id))
        }
        _ => Err(refused(LinkRefusal::Forged)),
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
             <body style=\"font-family: sans-serif; max-width: 640px; margin: 40px auto; padding: 0 12px; overflow-wrap: anywhere;\">\
             <h1>{title}</h1>{body}</body></html>"
        )),
    )
        .into_response()
}

/// Opens the pack from an e-mail and marks it read everywhere.
async fn read_pack(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (push_id, profile_id) = match follow(&state, LinkPurpose::ReadPack, &token).await {
        Ok(named) => named,
        Err(refusal) => return Ok(refusal),
    };
    state.store.mark_pack_read(push_id, profile_id).await?;
    let item = state
        .store
        .inbox_item_by_key(&inbox_key(push_id, profile_id))
        .await?;
    let Some(item) = item else {
        return Ok(page(
            StatusCode::OK,
            "政策服务包 · Policy service pack",
            "<p>已标记为已读。</p><p>Marked as read.</p>",
        ));
    };
    let pack: push::ServicePack = serde_json::from_str(item.pack.get()).map_err(|error| {
        tracing::error!(%error, item_id = item.id, "stored pack does not decode");
        ApiError::internal()
    })?;
    // Served by the site itself: its links to policies and 我的政策 are relative.
    let links = push::Links {
        public_url: "",
        read_url: None,
        unsubscribe_url: None,
    };
    let rendered = state.pusher.templates().render(&pack, links)?;
    Ok(Html(rendered.html).into_response())
}

async fn unsubscribe_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if let Err(refusal) = follow(&state, LinkPurpose::Unsubscribe, &token).await {
        return refusal;
    }
    page(
        StatusCode::OK,
        "退订政策邮件 · Unsubscribe",
        "<p>确认后将不再通过电子邮件接收政策服务包，站内消息不受影响。</p>\
         <p>You will no longer get policy packs by e-mail; your inbox is not affected.</p>\
         <form method=\"post\"><button type=\"submit\">确认退订 · Unsubscribe</button></form>",
    )
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let profile_id = match follow(&state, LinkPurpose::Unsubscribe, &token).await {
        Ok((_, profile_id)) => profile_id,
        Err(refusal) => return Ok(refusal),
    };
    let mut preferences = state.store.preferences(profile_id).await?;
    preferences.channels.email = false;
    let actor = format!("profile:{profile_id}");
    state
        .store
        .save_preferences(profile_id, &preferences, &actor)
        .await?;
    Ok(page(
        StatusCode::OK,
        "已退订 · Unsubscribed",
        "<p>您已退订政策邮件。可随时在偏好设置中重新开启。</p>\
         <p>You are unsubscribed from policy e-mails. You can turn them on again in your preferences.</p>",
    ))
}

/// The page behind a confirmation link. Opening it confirms nothing: mail scanners fetch links,
/// and only the person at the address should confirm, with the button (a POST).
async fn confirm_contact_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    if let Err(refusal) =
        state
            .pusher
            .signer()
            .verify(LinkPurpose::ConfirmContact, &token, state.store.now())
    {
        return refused(refusal);
    }
    page(
        StatusCode::OK,
        "确认接收政策服务包 · Confirm your address",
        "<p>确认后，本邮箱将收到添加它的用户的政策服务包。</p>\
         <p>Once confirmed, this address receives the policy packs of the user who added it.</p>\
         <form method=\"post\"><button type=\"submit\">确认 · Confirm</button></form>",
    )
}

/// Confirms the address a link names; a link works once.
async fn confirm_contact(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let ids =
        match state
            .pusher
            .signer()
            .verify(LinkPurpose::ConfirmContact, &token, state.store.now())
        {
            Ok(ids) => ids,
            Err(refusal) => return Ok(refused(refusal)),
        };
    if state.store.confirm_contact(ids[0], ids[1]).await?.is_none() {
        return Ok(page(
            StatusCode::GONE,
            "链接已使用 · Link already used",
            "<p>该确认链接已使用或已失效。</p><p>This confirmation link was already used or is no longer valid.</p>",
        ));
    }
    Ok(page(
        StatusCode::OK,
        "邮箱已确认 · Address confirmed",
        "<p>本邮箱已确认，今后将收到政策服务包。</p><p>This address is confirmed and will receive policy packs.</p>",
    ))
}
