//! The "add watch address" input: two fields (address, then label), validated as
//! typed. Pure editing logic; the popup is drawn by the UI from these fields.

use alloy_primitives::Address;

use crate::config::parse_address;

/// Longest label accepted.
pub const MAX_LABEL: usize = 40;
/// `0x` and 40 hex digits.
const ADDRESS_LEN: usize = 42;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputField {
    #[default]
    Address,
    Label,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputState {
    pub address: String,
    pub label: String,
    pub field: InputField,
}

/// What Enter did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submit {
    /// The address is valid: the label field has focus now.
    Next,
    /// Not accepted; the message says why (also shown by [`InputState::message`]).
    Invalid(String),
    /// Done: watch this address under this label.
    Done(Address, String),
}

impl InputState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Type a character into the focused field. The address field takes only what
    /// can be part of an address, so a stray key cannot make it unreadable.
    pub fn push(&mut self, c: char) {
        match self.field {
            InputField::Address => {
                let ok =
                    c.is_ascii_hexdigit() || (matches!(c, 'x' | 'X') && self.address.len() == 1);
                if ok && self.address.len() < ADDRESS_LEN {
                    self.address.push(c);
                }
            }
            InputField::Label => {
                if !c.is_control() && self.label.chars().count() < MAX_LABEL {
                    self.label.push(c);
                }
            }
        }
    }

    /// Delete the last character; on an empty label, go back to the address.
    pub fn backspace(&mut self) {
        match self.field {
            InputField::Address => {
                self.address.pop();
            }
            InputField::Label if self.label.is_empty() => self.field = InputField::Address,
            InputField::Label => {
                self.label.pop();
            }
        }
    }

    /// The address as typed, if it is a valid one.
    pub fn parsed(&self) -> Result<Address, String> {
        let a = self.address.as_str();
        if !(a.is_empty() || a == "0" || a.starts_with("0x") || a.starts_with("0X")) {
            return Err("an address starts with 0x".into());
        }
        let digits = a.len().saturating_sub(2);
        if digits < 40 {
            return Err(format!("{digits}/40 hex digits"));
        }
        parse_address(a).map_err(str::to_string)
    }

    /// The validation message for the address field as it stands (`None`: valid).
    pub fn message(&self) -> Option<String> {
        self.parsed().err()
    }

    /// Enter: from the address field go to the label; from the label, finish. An
    /// empty label becomes the shortened address.
    pub fn submit(&mut self) -> Submit {
        let address = match self.parsed() {
            Ok(a) => a,
            Err(e) => {
                self.field = InputField::Address;
                return Submit::Invalid(e);
            }
        };
        match self.field {
            InputField::Address => {
                self.field = InputField::Label;
                Submit::Next
            }
            InputField::Label => {
                let label = match self.label.trim() {
                    "" => {
                        let c = address.to_checksum(None);
                        format!("{}…{}", &c[..6], &c[c.len() - 4..])
                    }
                    l => l.to_string(),
                };
                Submit::Done(address, label)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> InputState {
        let mut i = InputState::new();
        for c in s.chars() {
            i.push(c);
        }
        i
    }

    const ADDR: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

    #[test]
    fn typing_validates_as_you_go() {
        let i = typed("0xf39f");
        assert_eq!(i.message().as_deref(), Some("4/40 hex digits"));
        let i = typed("0xf39g-z fd");
        assert_eq!(
            i.address, "0xf39fd",
            "keys that cannot be in an address are ignored"
        );
        let i = typed(&format!("{ADDR}ff"));
        assert_eq!(i.address, ADDR, "no more than 42 characters");
        assert_eq!(i.message(), None);
        let i = typed("0xF39fd6e51aad88F6F4ce6aB8827279cffFb92267");
        assert!(i.message().is_some_and(|m| m.contains("checksum")));
    }

    #[test]
    fn backspace_edits_and_steps_back_to_the_address() {
        let mut i = typed(ADDR);
        assert_eq!(i.submit(), Submit::Next);
        i.push('m');
        i.backspace();
        assert_eq!(i.field, InputField::Label);
        i.backspace();
        assert_eq!(i.field, InputField::Address);
        i.backspace();
        assert_eq!(i.address.len(), 41);
        assert!(matches!(i.submit(), Submit::Invalid(m) if m == "39/40 hex digits"));
    }

    #[test]
    fn submit_with_and_without_label() {
        let mut i = typed(ADDR);
        assert_eq!(i.submit(), Submit::Next);
        for c in "my hot wallet\u{1b}".chars() {
            i.push(c);
        }
        let want: Address = ADDR.parse().expect("address");
        assert_eq!(i.submit(), Submit::Done(want, "my hot wallet".into()));

        let mut i = typed(ADDR);
        i.submit();
        assert_eq!(i.submit(), Submit::Done(want, "0xf39F…2266".into()));
    }

    #[test]
    fn invalid_address_is_refused_with_a_message() {
        let mut i = typed("0x1234");
        assert_eq!(i.submit(), Submit::Invalid("4/40 hex digits".into()));
        assert_eq!(i.field, InputField::Address);
        let mut i = typed("12");
        assert_eq!(i.message().as_deref(), Some("an address starts with 0x"));
        assert!(matches!(i.submit(), Submit::Invalid(_)));
    }
}
