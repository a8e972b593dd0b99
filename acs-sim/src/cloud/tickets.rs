//! CAS tickets (PROTOCOL.md §4.3, after the Apereo CAS REST protocol): ticket-granting tickets
//! (step 2) and service tickets (step 3), each single-use, expiring, and bounded in number.

use std::collections::HashMap;

use tokio::time::Instant;

/// One kind of ticket: id to the serial it was issued for.
#[derive(Debug)]
pub(super) struct TicketBook {
    tickets: HashMap<String, Ticket>,
    max: usize,
}

#[derive(Debug)]
struct Ticket {
    serial: String,
    expires: Instant,
}

impl TicketBook {
    pub(super) fn new(max: usize) -> Self {
        Self {
            tickets: HashMap::new(),
            max,
        }
    }

    /// Records ticket `id` for `serial` until `expires`; `false` when the book is full of
    /// tickets still valid at `now`.
    pub(super) fn issue(
        &mut self,
        id: String,
        serial: &str,
        now: Instant,
        expires: Instant,
    ) -> bool {
        if self.tickets.len() >= self.max {
            self.tickets.retain(|_, ticket| ticket.expires > now);
            if self.tickets.len() >= self.max {
                return false;
            }
        }
        self.tickets.insert(
            id,
            Ticket {
                serial: serial.to_owned(),
                expires,
            },
        );
        true
    }

    /// Spends ticket `id`: the serial it was issued for, if it exists and has not expired.
    pub(super) fn take(&mut self, id: &str, now: Instant) -> Option<String> {
        self.tickets
            .remove(id)
            .filter(|ticket| ticket.expires > now)
            .map(|ticket| ticket.serial)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_ticket_is_spent_once_and_not_after_it_expires() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut book = TicketBook::new(4);
        assert!(book.issue("a".into(), "SN1", now, later));
        assert!(book.issue("b".into(), "SN2", now, later));
        assert_eq!(book.take("a", now).as_deref(), Some("SN1"));
        assert_eq!(book.take("a", now), None, "single use");
        assert_eq!(book.take("b", later), None, "expired");
    }

    #[test]
    fn a_full_book_makes_room_only_from_expired_tickets() {
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        let mut book = TicketBook::new(1);
        assert!(book.issue("a".into(), "SN1", now, soon));
        assert!(
            !book.issue("b".into(), "SN1", now, soon),
            "full of valid tickets"
        );
        assert!(book.issue("c".into(), "SN1", soon, soon + soon.duration_since(now)));
        assert_eq!(book.take("c", soon).as_deref(), Some("SN1"));
    }
}
