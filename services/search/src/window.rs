//! Application windows (申报中 / 即将截止): when a policy is open for applications on a given day,
//! decided from its benefit items' 申报 windows and the caller's day, never from the index's
//! time of writing. The index keeps each item's window as one packed fast-field value so a search
//! can filter and count on the day it is asked, and a window that closes drops out the next day
//! without reindexing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use store::policy::{BenefitItem, Policy};
use utoipa::ToSchema;

use crate::schema::day_number;

/// A window closing within this many days (inclusive) is 即将截止.
pub const CLOSING_SOON_DAYS: i64 = 30;

/// Where a policy stands for applications on one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationWindow {
    /// 申报中: some item's window is open (closing soon or not).
    Open,
    /// 即将截止: some item's window is open and closes within [`CLOSING_SOON_DAYS`].
    ClosingSoon,
}

impl ApplicationWindow {
    /// The narrowest state of a policy on `today`: closing soon, else open, else none.
    pub fn of_policy(policy: &Policy, today: NaiveDate) -> Option<Self> {
        let day = day_number(today);
        narrowest(
            policy
                .content
                .benefit_items
                .iter()
                .filter_map(item_window)
                .map(|window| window.state(day)),
        )
    }

    /// Whether a window in `state` counts as `self` (an item closing soon is also open).
    fn covers(self, state: Option<Self>) -> bool {
        match self {
            Self::Open => state.is_some(),
            Self::ClosingSoon => state == Some(Self::ClosingSoon),
        }
    }

    /// Whether one packed item window puts its policy in `self` on the day numbered `day`.
    pub(crate) fn holds(self, packed: u64, day: i64) -> bool {
        self.covers(Window::unpack(packed).state(day))
    }
}

fn narrowest(states: impl Iterator<Item = Option<ApplicationWindow>>) -> Option<ApplicationWindow> {
    let mut result = None;
    for state in states.flatten() {
        if state == ApplicationWindow::ClosingSoon {
            return Some(state);
        }
        result = Some(state);
    }
    result
}

/// One item's window in day numbers. An item without a closing day has no window to apply in
/// (it is open all year or not applied for), so it is never 申报中.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    opens: Option<i64>,
    closes: i64,
}

pub(crate) fn item_window(item: &BenefitItem) -> Option<Window> {
    Some(Window {
        opens: item.window_opens.map(day_number),
        closes: day_number(item.window_closes?),
    })
}

impl Window {
    fn state(self, day: i64) -> Option<ApplicationWindow> {
        let open = self.opens.is_none_or(|opens| opens <= day) && day <= self.closes;
        if !open {
            None
        } else if self.closes - day <= CLOSING_SOON_DAYS {
            Some(ApplicationWindow::ClosingSoon)
        } else {
            Some(ApplicationWindow::Open)
        }
    }

    /// Opening day in the high half (0 for "no opening day"), closing day in the low half: one
    /// value per item keeps each item's two days together in a multi-valued fast field.
    pub(crate) fn pack(self) -> u64 {
        let half = |day: i64| u64::try_from(day).unwrap_or(0) & u64::from(u32::MAX);
        (self.opens.map_or(0, half) << 32) | half(self.closes)
    }

    fn unpack(value: u64) -> Self {
        let opens = (value >> 32) as i64;
        Self {
            opens: (opens != 0).then_some(opens),
            closes: (value & u64::from(u32::MAX)) as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> i64 {
        day_number(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn packed_windows_round_trip() {
        let window = Window {
            opens: Some(day(2026, 3, 1)),
            closes: day(2026, 6, 30),
        };
        assert_eq!(Window::unpack(window.pack()), window);
        let unbounded = Window {
            opens: None,
            closes: day(2026, 6, 30),
        };
        assert_eq!(Window::unpack(unbounded.pack()), unbounded);
    }

    #[test]
    fn a_window_is_open_from_its_first_to_its_last_day_and_closing_in_the_last_thirty() {
        let window = Window {
            opens: Some(day(2026, 3, 1)),
            closes: day(2026, 6, 30),
        };
        assert_eq!(window.state(day(2026, 2, 28)), None);
        assert_eq!(window.state(day(2026, 3, 1)), Some(ApplicationWindow::Open));
        assert_eq!(
            window.state(day(2026, 5, 30)),
            Some(ApplicationWindow::Open)
        );
        assert_eq!(
            window.state(day(2026, 5, 31)),
            Some(ApplicationWindow::ClosingSoon)
        );
        assert_eq!(
            window.state(day(2026, 6, 30)),
            Some(ApplicationWindow::ClosingSoon)
        );
        assert_eq!(window.state(day(2026, 7, 1)), None);
    }

    #[test]
    fn two_items_windows_are_not_mixed() {
        // Opening of the first and closing of the second would span 1 April; neither item is open.
        let first = Window {
            opens: Some(day(2026, 1, 1)),
            closes: day(2026, 3, 31),
        };
        let second = Window {
            opens: Some(day(2026, 6, 1)),
            closes: day(2026, 6, 30),
        };
        let holds = |state: ApplicationWindow, on: i64| {
            [first.pack(), second.pack()]
                .into_iter()
                .any(|packed| state.holds(packed, on))
        };
        assert!(!holds(ApplicationWindow::Open, day(2026, 4, 1)));
        assert!(holds(ApplicationWindow::Open, day(2026, 6, 10)));
        assert!(holds(ApplicationWindow::ClosingSoon, day(2026, 6, 10)));
        assert!(!holds(ApplicationWindow::ClosingSoon, day(2026, 1, 1)));
    }
}
