//! Readers that take what the service sends in more than one form.

use serde_json::Value;

/// An integer sent as a JSON number or as a numeric string (the service writes
/// `"contentType":"26"`, `"objectType":"40000"` and `"code":"200"` in places).
pub fn json_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
