//! The order state of a conversation as a short tag, read from its label (`redReminder`, from
//! trade cards, the conversation list and order-status pushes, §7.4, §7.5, §7.8).

use crate::text::i18n::Lang;

/// Where a conversation's order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderTag {
    /// 等待买家付款: ordered, not paid.
    Unpaid,
    /// 等待卖家发货: paid, the seller ships next.
    ToShip,
    /// 卖家已发货 / 等待买家收货.
    Shipped,
    /// 交易成功 / 买家已确认收货.
    Done,
    /// 交易关闭.
    Closed,
    /// 有新交易评价.
    Rated,
    /// 退款 of any kind.
    Refund,
}

impl OrderTag {
    pub const ALL: [OrderTag; 7] = [
        OrderTag::Unpaid,
        OrderTag::ToShip,
        OrderTag::Shipped,
        OrderTag::Done,
        OrderTag::Closed,
        OrderTag::Rated,
        OrderTag::Refund,
    ];

    /// The short tag of an order state in the list and the pane header.
    pub fn label(self, lang: Lang) -> &'static str {
        use OrderTag as T;
        let (zh, en) = match self {
            T::Unpaid => ("待付款", "unpaid"),
            T::ToShip => ("待发货", "to ship"),
            T::Shipped => ("已发货", "shipped"),
            T::Done => ("交易成功", "done"),
            T::Closed => ("交易关闭", "closed"),
            T::Rated => ("新评价", "rated"),
            T::Refund => ("退款", "refund"),
        };
        if lang == Lang::Zh { zh } else { en }
    }

    /// The tag of a label, when it is a known kind of order state. The labels are the
    /// service's Chinese phrases; only a few are attested (§7.4, §7.8), so this reads the
    /// words they are made of rather than whole phrases.
    pub fn of(label: &str) -> Option<OrderTag> {
        let has = |w: &str| label.contains(w);
        let tag = if has("退款") {
            OrderTag::Refund
        } else if has("关闭") {
            OrderTag::Closed
        } else if has("评价") {
            OrderTag::Rated
        } else if has("交易成功") || has("已确认收货") || has("已收货") {
            OrderTag::Done
        } else if has("已发货") || has("待收货") || has("等待买家收货") {
            OrderTag::Shipped
        } else if has("待发货") || has("等待卖家发货") || has("已付款") {
            OrderTag::ToShip
        } else if has("付款") || has("已拍下") {
            OrderTag::Unpaid
        } else {
            return None;
        };
        Some(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_the_service_become_tags() {
        for (label, tag) in [
            ("等待买家付款", Some(OrderTag::Unpaid)),
            ("买家已拍下，待付款", Some(OrderTag::Unpaid)),
            ("等待卖家发货", Some(OrderTag::ToShip)),
            ("买家已付款", Some(OrderTag::ToShip)),
            ("卖家已发货", Some(OrderTag::Shipped)),
            ("交易成功", Some(OrderTag::Done)),
            ("买家已确认收货", Some(OrderTag::Done)),
            ("交易关闭", Some(OrderTag::Closed)),
            ("有新交易评价", Some(OrderTag::Rated)),
            ("退款成功", Some(OrderTag::Refund)),
            ("有蚂蚁森林能量可领", None),
            ("", None),
        ] {
            assert_eq!(OrderTag::of(label), tag, "{label}");
        }
    }
}
