//! hyper runs on weft: the HTTP example's self-test, as a test.

#[path = "../examples/http.rs"]
#[allow(dead_code)]
mod http;

#[test]
fn hyper_serves_keep_alive_clients() {
    assert_eq!(http::selftest(16, 50), 16 * 50);
}
