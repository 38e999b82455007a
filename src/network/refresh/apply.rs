//! One refresh's answers turned into updates: only what changed goes out.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, Bytes, U64, U256};

use super::Refresher;
use super::confirm::{Missing, Recheck};
use super::last::Last;
use super::plan::{MetaField, Slot};
use crate::event::{Finality, FinalityTag, NetIdx, TokenMeta, Update};
use crate::network::Shared;
use crate::network::decode::{token_text, view_value, word};
use crate::rpc::http::BatchResult;
use crate::rpc::types::{WireBlock, WireTxs};

/// What one refresh learnt, to be sent in order: metadata first (so amounts have
/// their decimals), then the values; and what the chain task must hear.
pub(super) struct Applied<'a> {
    net: NetIdx,
    block: u64,
    shared: &'a Shared,
    addresses: &'a [(Address, String)],
    tokens: &'a [Address],
    pub metas: HashMap<Address, TokenMeta>,
    pub out: Vec<Update>,
    /// Blocks read with their transactions, for the mempool tracker.
    pub mined: Vec<crate::network::mempool::Input>,
    /// Pushed heads the node did not know (asked once).
    pub suspects: Vec<B256>,
    pub rechecked: HashMap<B256, Recheck>,
    /// Nonces seen in scanned blocks: a watched sender's nonce after the highest
    /// block it sent in is its last transaction's nonce plus one (by address: that
    /// block and the nonce).
    seen_nonces: HashMap<Address, (u64, u64)>,
    /// Addresses whose nonce this refresh read (a read beats what a block implies).
    nonces_read: Vec<Address>,
    /// What the endpoint said `safe` and `finalized` are, when asked.
    finality: [Option<FinalityTag>; 2],
}

impl<'a> Applied<'a> {
    pub fn new(r: &'a Refresher, block: u64, addresses: &'a [(Address, String)]) -> Self {
        Self {
            net: r.net,
            block,
            shared: &r.shared,
            addresses,
            tokens: &r.tokens,
            metas: HashMap::new(),
            out: Vec::new(),
            mined: Vec::new(),
            suspects: Vec::new(),
            rechecked: HashMap::new(),
            seen_nonces: HashMap::new(),
            nonces_read: Vec::new(),
            finality: [None, None],
        }
    }

    /// Fold every answer in, metadata first: views and balances read in the same
    /// batch are then formatted with the token's decimals.
    pub fn apply(
        &mut self,
        r: &Refresher,
        results: Vec<(Slot, BatchResult)>,
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) {
        let (meta, rest): (Vec<_>, Vec<_>) = results
            .into_iter()
            .partition(|(slot, _)| matches!(slot, Slot::Meta { .. }));
        for (slot, res) in meta.into_iter().chain(rest) {
            match slot {
                Slot::Balance(address) => self.balance(address, &res, last),
                Slot::Nonce(address) => {
                    self.nonces_read.push(address);
                    self.nonce(address, &res, last);
                }
                Slot::TokenBalance { holder, token } => {
                    self.token_balance(holder, token, &res, last)
                }
                Slot::Meta { token, field } => self.meta(r, token, field, &res),
                Slot::View { contract, view } => self.view(r, contract, view, &res, last),
                Slot::Confirm { head, full } => {
                    match res.map(|raw| serde_json::from_str::<Option<WireBlock>>(raw.get())) {
                        Ok(Ok(Some(b))) => self.confirmed(head, full, b, last),
                        Ok(Ok(None)) => {
                            missing.push(Missing::new(head));
                            self.suspects.push(head.hash);
                        }
                        Ok(Err(e)) => self.block_error(head.number, &e.to_string()),
                        Err(e) => self.block_error(head.number, &e.message),
                    }
                }
                // Taken apart before (`unpack`).
                Slot::MulticallCode | Slot::Multi(_) => {}
                Slot::Finality(finalized) => match self.finality_tag(&res) {
                    Some(tag) => self.finality[usize::from(finalized)] = Some(tag),
                    // Asked again at the next head.
                    None => last.finality_at = None,
                },
                Slot::Recheck(m, by_number) => {
                    let found = res
                        .ok()
                        .and_then(|raw| serde_json::from_str::<Option<WireBlock>>(raw.get()).ok())
                        .map(|b| b.map(|b| b.hash));
                    let entry = self
                        .rechecked
                        .entry(m.head.hash)
                        .or_insert_with(|| Recheck::new(m));
                    if by_number {
                        entry.at_number = found;
                    } else {
                        entry.by_hash = found;
                    }
                }
            }
        }
        self.seen_nonces(last);
        if let [Some(safe), Some(finalized)] = std::mem::take(&mut self.finality) {
            self.out.push(Update::Finality {
                net: self.net,
                finality: Box::new(Finality {
                    head: self.block,
                    safe,
                    finalized,
                }),
            });
        }
    }

    /// A `safe` or `finalized` answer ([`finality_answer`]); one that does not
    /// decode is a bad frame too.
    fn finality_tag(&self, res: &BatchResult) -> Option<FinalityTag> {
        let tag = finality_answer(res)?;
        if let Err(why) = &tag {
            self.shared.bad_frame(format!("finality block: {why}"));
        }
        Some(tag.unwrap_or_else(|why| FinalityTag::Unsupported(format!("bad answer: {why}"))))
    }

    /// The nonces the scanned blocks imply, for senders whose nonce was not read:
    /// no `eth_getTransactionCount` for an address seen sending.
    fn seen_nonces(&mut self, last: &mut Last) {
        for (address, (_, nonce)) in std::mem::take(&mut self.seen_nonces) {
            if self.nonces_read.contains(&address) {
                continue;
            }
            last.nonce_due.remove(&address);
            self.set_nonce(address, nonce, last);
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        res: &BatchResult,
        what: &str,
        address: Address,
    ) -> Option<T> {
        match res {
            Ok(raw) => match serde_json::from_str::<T>(raw.get()) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.shared
                        .error(format!("{what} of {address}: bad answer: {e}"));
                    None
                }
            },
            Err(e) => {
                self.shared
                    .error(format!("{what} of {address}: {} {}", e.code, e.message));
                None
            }
        }
    }

    fn balance(&mut self, address: Address, res: &BatchResult, last: &mut Last) {
        let Some(wei) = self.decode::<U256>(res, "balance", address) else {
            // Read again next time (on activity it would otherwise wait for a sweep).
            last.balance_due.insert(address);
            return;
        };
        last.read_at.insert(address, self.block);
        if last.balances.insert(address, wei) != Some(wei) {
            let (net, block) = (self.net, self.block);
            self.out.push(Update::Balance {
                net,
                address,
                wei,
                block,
            });
        }
    }

    fn nonce(&mut self, address: Address, res: &BatchResult, last: &mut Last) {
        let Some(n) = self.decode::<U64>(res, "nonce", address) else {
            last.nonce_due.insert(address);
            return;
        };
        self.set_nonce(address, n.to::<u64>(), last);
    }

    fn set_nonce(&mut self, address: Address, nonce: u64, last: &mut Last) {
        if last.nonces.insert(address, nonce) != Some(nonce) {
            let (net, block) = (self.net, self.block);
            self.out.push(Update::Nonce {
                net,
                address,
                nonce,
                block,
            });
        }
    }

    fn token_balance(
        &mut self,
        holder: Address,
        token: Address,
        res: &BatchResult,
        last: &mut Last,
    ) {
        let Some(bytes) = self.decode::<Bytes>(res, "token balance", token) else {
            last.balance_due.insert(holder);
            return;
        };
        let Some(amount) = word(&bytes) else {
            self.shared.error(format!(
                "token {token}: balanceOf answered {} bytes; is it an ERC-20?",
                bytes.len()
            ));
            return;
        };
        if last.tokens.insert((holder, token), amount) != Some(amount) {
            let (net, block) = (self.net, self.block);
            self.out.push(Update::TokenBalance {
                net,
                holder,
                token,
                amount,
                block,
            });
        }
    }

    fn meta(&mut self, r: &Refresher, token: Address, field: MetaField, res: &BatchResult) {
        let meta = self.metas.entry(token).or_insert(TokenMeta {
            address: token,
            symbol: None,
            name: None,
            decimals: None,
        });
        // Untrusted and optional: a token that does not answer keeps `None`.
        let Ok(raw) = res else { return };
        let Ok(bytes) = serde_json::from_str::<Bytes>(raw.get()) else {
            return;
        };
        match field {
            MetaField::Decimals => meta.decimals = word(&bytes).and_then(|w| u8::try_from(w).ok()),
            MetaField::Symbol => meta.symbol = token_text(&bytes),
            MetaField::Name => meta.name = token_text(&bytes),
        }
        r.watched.set_token(meta.clone());
    }

    fn view(
        &mut self,
        r: &Refresher,
        contract: usize,
        view: usize,
        res: &BatchResult,
        last: &mut Last,
    ) {
        let c = &r.contracts[contract];
        let decimals = r.watched.token(c.address).and_then(|m| m.decimals);
        let value = view_value(res, &c.views[view].function, decimals);
        if last.views.get(&(contract, view)) != Some(&value) {
            last.views.insert((contract, view), value.clone());
            let (net, block) = (self.net, self.block);
            self.out.push(Update::View {
                net,
                contract: c.address,
                index: view,
                block,
                value,
            });
        }
    }

    fn block_error(&self, number: u64, why: &str) {
        self.shared.error(format!(
            "block {} for activity: {why}",
            crate::fmt::thousands(number)
        ));
    }

    /// The node has the pushed head: its transaction count, and (`full`) the watched
    /// addresses its transactions touch.
    fn confirmed(
        &mut self,
        head: crate::network::feed::Unconfirmed,
        full: bool,
        b: WireBlock,
        last: &mut Last,
    ) {
        let net = self.net;
        if head.needs_tx_count
            && let Some(txs) = &b.transactions
        {
            self.out.push(Update::HeadTxCount {
                net,
                number: head.number,
                hash: head.hash,
                tx_count: txs.len() as u32,
            });
        }
        if !full {
            return;
        }
        last.scanned_block = Some(b.hash);
        last.scanned(head.number, b.hash);
        // An empty list reads as hashes (nothing tells the two apart): a block with
        // no transaction still tells the mempool tracker a block came at its height.
        let txs = match b.transactions {
            Some(WireTxs::Full(txs)) => txs,
            Some(WireTxs::Hashes(h)) if h.is_empty() => Vec::new(),
            _ => return,
        };
        self.mined.push(crate::network::mempool::Input::Block {
            number: head.number,
            hash: b.hash,
            txs: txs
                .iter()
                .map(|t| crate::network::mempool::MinedTx {
                    hash: t.hash,
                    from: t.from,
                    nonce: t.nonce.map(|n| n.to::<u64>()),
                    to: t.to,
                    value: t.value,
                })
                .collect(),
        });
        for tx in txs {
            if self.addresses.iter().any(|(w, _)| *w == tx.from) {
                // It sent: its nonce moved. The transaction says to what (after the
                // highest block it sent in); a node that leaves the nonce out has it
                // read at the next refresh.
                match tx.nonce {
                    Some(n) => {
                        let seen = (head.number, n.to::<u64>().saturating_add(1));
                        let entry = self.seen_nonces.entry(tx.from).or_insert(seen);
                        *entry = (*entry).max(seen);
                    }
                    None => {
                        last.nonce_due.insert(tx.from);
                    }
                }
            }
            // A direct transfer of a watched token names its holders in the
            // calldata: read with the block, not when its log comes.
            if tx.to.is_some_and(|t| self.tokens.contains(&t)) {
                for holder in token_holders(tx.input.as_ref().map_or(&[][..], |b| &b[..])) {
                    if self.addresses.iter().any(|(w, _)| *w == holder) {
                        last.balance_due.insert(holder);
                    }
                }
            }
            for a in [Some(tx.from), tx.to].into_iter().flatten() {
                if self.addresses.iter().any(|(w, _)| *w == a) {
                    last.balance_due.insert(a);
                    self.out.push(Update::Activity {
                        net,
                        address: a,
                        block: Some(head.number),
                        block_hash: Some(b.hash),
                        tx: tx.hash,
                    });
                }
            }
        }
    }
}

/// The addresses whose token balance an ERC-20 call moves, from its calldata:
/// `transfer(to, amount)` names the recipient (the sender is the transaction's),
/// `transferFrom(from, to, amount)` both. Anything else names none.
fn token_holders(input: &[u8]) -> Vec<Address> {
    const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
    const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];
    let arg = |i: usize| {
        let w = input.get(4 + 32 * i..4 + 32 * (i + 1))?;
        // An address argument is 12 zero bytes and 20 of address.
        w[..12]
            .iter()
            .all(|b| *b == 0)
            .then(|| Address::from_slice(&w[12..]))
    };
    match input.get(..4) {
        Some(s) if s == TRANSFER => arg(0).into_iter().collect(),
        Some(s) if s == TRANSFER_FROM => [arg(0), arg(1)].into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}

/// What a `safe` or `finalized` answer says: the block, none yet, or refused;
/// `Err` for an answer that does not decode; `None` for a failure that says
/// nothing about the tag (a rate limit, an internal error: asked again).
fn finality_answer(res: &BatchResult) -> Option<Result<FinalityTag, String>> {
    #[derive(serde::Deserialize)]
    struct Tagged {
        number: U64,
        hash: B256,
    }
    Some(match res {
        Ok(raw) => match serde_json::from_str::<Option<Tagged>>(raw.get()) {
            Ok(Some(b)) => Ok(FinalityTag::Block {
                number: b.number.to(),
                hash: b.hash,
            }),
            Ok(None) => Ok(FinalityTag::None),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => {
            let m = e.message.to_ascii_lowercase();
            if m.contains("not found") {
                // geth before the merge, or a chain without finality yet.
                Ok(FinalityTag::None)
            } else if matches!(e.code, -32602..=-32600)
                || ["unsupported", "not supported", "invalid", "unknown"]
                    .iter()
                    .any(|w| m.contains(w))
            {
                Ok(FinalityTag::Unsupported(
                    crate::text::sanitize(&e.message).into_owned(),
                ))
            } else {
                return None;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{finality_answer, token_holders};
    use crate::event::FinalityTag;
    use crate::rpc::types::RpcErrorObj;
    use alloy_primitives::Address;

    fn word(a: Address) -> Vec<u8> {
        a.into_word().to_vec()
    }

    #[test]
    fn transfer_calldata_names_the_holders_it_moves() {
        let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let amount = [0x11u8; 32].to_vec();
        let transfer = [vec![0xa9, 0x05, 0x9c, 0xbb], word(b), amount.clone()].concat();
        assert_eq!(token_holders(&transfer), vec![b]);
        let from = [vec![0x23, 0xb8, 0x72, 0xdd], word(a), word(b), amount].concat();
        assert_eq!(token_holders(&from), vec![a, b]);
        // approve(b, amount) moves nothing; a short or dirty word names no one.
        let approve = [vec![0x09, 0x5e, 0xa7, 0xb3], word(b)].concat();
        assert!(token_holders(&approve).is_empty());
        assert!(token_holders(&transfer[..20]).is_empty());
        let mut dirty = transfer.clone();
        dirty[5] = 1;
        assert!(token_holders(&dirty).is_empty());
    }

    #[test]
    fn finality_answers_are_a_block_none_yet_refused_or_asked_again() {
        let ok = |text: &str| {
            Ok(serde_json::value::RawValue::from_string(text.to_string()).expect("raw JSON"))
        };
        let err = |code, message: &str| {
            Err(RpcErrorObj {
                code,
                message: message.into(),
                data: None,
            })
        };
        let block = ok(&format!(
            r#"{{"number":"0x20","hash":"0x{}"}}"#,
            "ab".repeat(32)
        ));
        assert!(matches!(
            finality_answer(&block),
            Some(Ok(FinalityTag::Block { number: 32, .. }))
        ));
        assert_eq!(finality_answer(&ok("null")), Some(Ok(FinalityTag::None)));
        assert_eq!(
            finality_answer(&err(-32000, "finalized block not found")),
            Some(Ok(FinalityTag::None))
        );
        for refused in [
            err(-32602, "invalid argument 0: hex string without 0x prefix"),
            err(-32000, "Unknown block tag \u{1b}[31msafe"),
        ] {
            let Some(Ok(FinalityTag::Unsupported(why))) = finality_answer(&refused) else {
                panic!("{refused:?}");
            };
            assert!(!why.contains('\u{1b}'), "sanitised: {why}");
        }
        // A rate limit or an internal error says nothing of the tag: asked again.
        assert_eq!(finality_answer(&err(-32005, "limit exceeded")), None);
        assert_eq!(finality_answer(&err(-32603, "internal error")), None);
        assert!(matches!(
            finality_answer(&ok(r#"{"number":7}"#)),
            Some(Err(_))
        ));
    }
}
