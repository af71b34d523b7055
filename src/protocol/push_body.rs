//! A push body read in the same pass as its frame (§7.1): the items of `syncPushPackage`
//! typed, with their `data` taken straight from the text, every other field kept as JSON.
//! Every push is read once this way; no JSON tree is built for the package and no second
//! pass reads the body again.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::lenient::json_int;

/// The items of a sync push, ready for the decoder.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SyncPush {
    /// `syncExtraType.type`: 1 or 2 ask the client to run getState + ackDiff (§7.1).
    pub extra_type: Option<i64>,
    /// `syncPushPackage.data`, in order.
    pub items: Vec<PushItem>,
}

/// One item of `syncPushPackage.data`.
#[derive(Clone, Debug, PartialEq)]
pub struct PushItem {
    /// The item's `bizType`, else its `objectType` (either a number or a numeric string).
    pub biz: Option<i64>,
    /// Its `data`: base64 of msgpack or JSON (§7.3).
    pub data: String,
}

/// An object body: `syncPushPackage` typed when it has the shape of one, the rest as JSON.
/// A body of another shape (not an object, a package whose items are not objects with a
/// string `data`) is an error here: the caller reads the frame again as a plain tree, and
/// the tree's decoder says what is wrong with it.
#[derive(Debug, Default)]
pub struct BodyParts {
    pub package: Option<Vec<PushItem>>,
    pub rest: Map<String, Value>,
}

impl BodyParts {
    /// The body as a sync push.
    pub fn into_sync(self) -> SyncPush {
        SyncPush {
            extra_type: extra_type(self.rest.get("syncExtraType")),
            items: self.package.unwrap_or_default(),
        }
    }

    /// The body as a tree, when it has no package (a package was not kept whole).
    pub fn into_tree(self) -> Option<Value> {
        match self.package {
            None => Some(Value::Object(self.rest)),
            Some(_) => None,
        }
    }
}

/// `syncExtraType.type` of a body, from its `syncExtraType` field.
pub fn extra_type(field: Option<&Value>) -> Option<i64> {
    field?.get("type").and_then(json_int)
}

/// An item's business type: its `bizType`, else its `objectType`.
pub fn item_biz(biz_type: Option<&Value>, object_type: Option<&Value>) -> Option<i64> {
    biz_type
        .and_then(json_int)
        .or_else(|| object_type.and_then(json_int))
}

impl<'de> Deserialize<'de> for BodyParts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = BodyParts;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a push body object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyParts, A::Error> {
        let mut parts = BodyParts::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "syncPushPackage" {
                let package: Option<Package> = map.next_value()?;
                parts.package = Some(package.and_then(|p| p.data).unwrap_or_default());
            } else {
                parts.rest.insert(key.into_owned(), map.next_value()?);
            }
        }
        Ok(parts)
    }
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    data: Option<Vec<PushItem>>,
}

impl<'de> Deserialize<'de> for PushItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire<'a> {
            #[serde(rename = "bizType", default)]
            biz_type: Option<Value>,
            #[serde(rename = "objectType", default)]
            object_type: Option<Value>,
            #[serde(borrow)]
            data: Cow<'a, str>,
        }
        let w = Wire::deserialize(d)?;
        Ok(PushItem {
            biz: item_biz(w.biz_type.as_ref(), w.object_type.as_ref()),
            data: w.data.into_owned(),
        })
    }
}

/// `text` as a push body; `None` when it is not one `BodyParts` reads.
pub fn parse(text: &str) -> Option<BodyParts> {
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_typed_and_the_rest_kept() {
        let body = r#"{"syncExtraType":{"type":"2"},"syncPushPackage":{"data":[
            {"bizType":40000,"data":"gqF\/wA==","x":[1]},{"objectType":"40006","data":"AA=="}],
            "more":1},"other":{"a":[1,2]}}"#;
        let parts = parse(body).expect("a sync body");
        assert_eq!(
            parts.rest.get("other"),
            Some(&serde_json::json!({"a": [1, 2]}))
        );
        let push = parts.into_sync();
        assert_eq!(push.extra_type, Some(2));
        assert_eq!(
            push.items,
            vec![
                PushItem {
                    biz: Some(40000),
                    data: "gqF/wA==".into()
                },
                PushItem {
                    biz: Some(40006),
                    data: "AA==".into()
                },
            ]
        );
    }

    #[test]
    fn other_shapes_are_left_to_the_tree() {
        for body in [
            "[1,2]",
            "\"text\"",
            r#"{"syncPushPackage":{"data":"nope"}}"#,
            r#"{"syncPushPackage":{"data":[{"bizType":1,"data":5}]}}"#,
            r#"{"syncPushPackage":{"data":[{"bizType":1}]}}"#,
        ] {
            assert!(parse(body).is_none(), "{body}");
        }
        let plain = parse(r#"{"a":1}"#).expect("an object");
        assert_eq!(plain.into_tree(), Some(serde_json::json!({"a": 1})));
        let with_package = parse(r#"{"syncPushPackage":null}"#).expect("an object");
        assert_eq!(with_package.into_tree(), None);
    }
}
