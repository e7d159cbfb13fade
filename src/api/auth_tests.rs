//! The access rules on their own: tokens, login links, sessions and their limits, CSRF tokens.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn access(limits: SessionLimits) -> Access {
    Access::new(
        &[Secret::new("adm")],
        &[Secret::new("view"), Secret::new("")],
        limits,
        false,
    )
}

fn signed_in(a: &Access, name: &str, role: Role) -> (HeaderMap, Signed) {
    let s = a
        .redeem_login_token(&a.new_login_token(name, role))
        .expect("first use");
    let h = headers(&[("cookie", &format!("x=1; {SESSION_COOKIE}={s}"))]);
    let signed = a.session(&h).expect("valid").expect("present");
    (h, signed)
}

#[test]
fn tokens_grant_their_role_and_nothing_else() {
    let a = access(SessionLimits::default());
    let role = |h: &[(&str, &str)]| a.bearer_role(&headers(h));
    assert_eq!(role(&[("authorization", "Bearer adm")]), Ok(Some(Role::Admin)));
    assert_eq!(role(&[("authorization", "bearer view")]), Ok(Some(Role::Viewer)));
    assert_eq!(role(&[("authorization", "Bearer ")]), Err(NotValid));
    assert_eq!(role(&[("authorization", "Bearer other")]), Err(NotValid));
    assert_eq!(role(&[]), Ok(None));
}

#[test]
fn a_login_link_works_once_and_its_session_carries_the_name_and_role() {
    let a = access(SessionLimits::default());
    let t = a.new_login_token("alice", Role::Viewer);
    let s = a.redeem_login_token(&t).expect("first use");
    assert!(a.redeem_login_token(&t).is_none(), "single use");
    let h = headers(&[("cookie", &format!("{SESSION_COOKIE}={s}"))]);
    let signed = a.session(&h).unwrap().unwrap();
    assert_eq!((signed.name.as_str(), signed.role), ("alice", Role::Viewer));
    assert!(a
        .session(&headers(&[("cookie", "forgelink_session=nope")]))
        .is_err());
    assert!(matches!(
        a.credential(&headers(&[("cookie", "forgelink_session=nope")])),
        Credential::Invalid
    ));
}

#[test]
fn a_signed_out_session_opens_nothing() {
    let a = access(SessionLimits::default());
    let (h, signed) = signed_in(&a, "alice", Role::Admin);
    a.sign_out(&signed);
    assert!(a.session(&h).is_err());
}

#[test]
fn a_session_ends_when_idle_and_at_its_lifetime_even_when_used() {
    let idle = access(SessionLimits {
        idle: Duration::from_millis(40),
        lifetime: Duration::from_secs(60),
    });
    let (h, _) = signed_in(&idle, "alice", Role::Admin);
    std::thread::sleep(Duration::from_millis(80));
    assert!(idle.session(&h).is_err(), "idle too long");

    let old = access(SessionLimits {
        idle: Duration::from_secs(60),
        lifetime: Duration::from_millis(120),
    });
    let (h, _) = signed_in(&old, "bob", Role::Admin);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(30));
        assert!(old.session(&h).unwrap().is_some(), "in use, within its lifetime");
    }
    std::thread::sleep(Duration::from_millis(60));
    assert!(old.session(&h).is_err(), "past its lifetime although in use");
}

#[test]
fn a_csrf_token_belongs_to_one_session_and_is_not_a_hash_of_the_cookie() {
    let a = access(SessionLimits::default());
    let (_, mine) = signed_in(&a, "alice", Role::Admin);
    let (_, other) = signed_in(&a, "bob", Role::Admin);
    assert!(a.verify_csrf(&mine, Some(&mine.csrf)));
    assert!(!a.verify_csrf(&mine, Some(&other.csrf)));
    assert!(!a.verify_csrf(&mine, None));
    assert!(!a.verify_csrf(&mine, Some("")));
    // Another server (another key) makes another token for the same session digest.
    let b = access(SessionLimits::default());
    assert_ne!(b.csrf_for(&mine.digest), mine.csrf);
}

#[test]
fn https_servers_use_a_host_prefixed_secure_cookie() {
    let a = Access::new(&[], &[], SessionLimits::default(), true);
    let c = a.session_cookie("abc");
    assert!(c.starts_with("__Host-forgelink_session=abc; Path=/;"), "{c}");
    assert!(c.contains("; Secure") && !c.contains("Domain"), "{c}");
    let plain = Access::new(&[], &[], SessionLimits::default(), false);
    assert!(plain.session_cookie("abc").starts_with("forgelink_session=abc;"));
}
