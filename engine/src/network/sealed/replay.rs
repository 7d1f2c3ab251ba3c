//! The sliding replay window of one sender: which of its last [`WINDOW`] counters were seen.

/// Counters remembered behind the highest one seen.
pub(crate) const WINDOW: u64 = 128;

/// What one sender's counters have been so far (RFC 4303's anti-replay window, 128 wide).
/// Checked before and updated after authentication, so forged datagrams never move it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    /// The highest counter seen, `None` before the first.
    top: Option<u64>,
    /// Bit `i` set: counter `top - i` was seen.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `counter` may be accepted: newer than the highest seen, or within the window
    /// behind it and not seen yet.
    pub(crate) fn fresh(&self, counter: u64) -> bool {
        let Some(top) = self.top else {
            return true;
        };
        if counter > top {
            return true;
        }
        let behind = top - counter;
        behind < WINDOW && self.seen & (1u128 << behind) == 0
    }

    /// Notes `counter` as seen (after [`ReplayWindow::fresh`] said so and the datagram
    /// authenticated).
    pub(crate) fn accept(&mut self, counter: u64) {
        match self.top {
            Some(top) if counter <= top => {
                let behind = top - counter;
                if behind < WINDOW {
                    self.seen |= 1u128 << behind;
                }
            }
            Some(top) => {
                let ahead = counter - top;
                self.seen = if ahead >= WINDOW {
                    1
                } else {
                    (self.seen << ahead) | 1
                };
                self.top = Some(counter);
            }
            None => {
                self.seen = 1;
                self.top = Some(counter);
            }
        }
    }
}
