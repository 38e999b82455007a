//! The simulated chain: blocks, balances, logs and reorgs, with no I/O.
//!
//! Everything random comes from one seeded PRNG so that the same seed gives the same
//! block hashes; only timestamps come from the caller (wall clock in the server).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use alloy_primitives::{Address, B256, Bloom, BloomInput, Bytes, U256, address, b256};

use super::{DEMO_TOKEN, DEMO_TOKEN_DECIMALS};

/// Blocks (with their state) kept for lookups; older ones are pruned like a geth
/// node without archive mode.
pub(crate) const HISTORY: usize = 1024;
pub(crate) const GAS_LIMIT: u64 = 30_000_000;
const ORPHANS_KEPT: usize = 256;
const INITIAL_BASE_FEE: u64 = 12_000_000_000;
const ETH_TRANSFER_GAS: u64 = 21_000;
const TOKEN_TRANSFER_GAS: u64 = 51_800;

pub(crate) const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
/// `Swap(address,address,int256,int256,uint160,uint128,int24)` (Uniswap v3), so that
/// blocks carry logs the demo-token filter must skip.
pub(crate) const SWAP_TOPIC: B256 =
    b256!("c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67");
pub(crate) const DEMO_POOL: Address = address!("c967a64cb14028d512c9791e558e08baa7196b50");
pub(crate) const TOKEN_TOTAL_SUPPLY_UNITS: u64 = 1_000_000_000;

/// Accounts whose balances are tracked; the first six are the demo watch list, the
/// last is the token treasury that seeds the others.
pub(crate) const ACCOUNTS: [(Address, &str); 7] = [
    (
        address!("a4c123b1612dd272d1371c17149d439536b3216f"),
        "alice",
    ),
    (address!("daeeb975729fae923d5a4fd12aabfe228f219e9c"), "bob"),
    (
        address!("b0eb53f16947ccf25ec84d8dbc74254770f58904"),
        "carol",
    ),
    (
        address!("dba41ecccc3fc1626e53a13043b026c48bbf33fe"),
        "dex-router",
    ),
    (
        address!("ff9243a8f506b40928b5b7a767c76fb008f86beb"),
        "exchange",
    ),
    (
        address!("b2737f6a6f0fb23c6f5da2cec255404e4fb44003"),
        "bridge",
    ),
    (
        address!("4d6608697a8d41bed440e50454f31af3176813e0"),
        "treasury",
    ),
];
pub(crate) const TREASURY: usize = 6;

const MINERS: [Address; 3] = [
    address!("2ea68ef786e4d3cea27d26934b484e73cf575dca"),
    address!("d6ba2b0aee0ca923732881584d8c4fa2815d2802"),
    address!("827283e0ad84173581569969e58b081006f7e3df"),
];

fn one_token() -> U256 {
    U256::from(10u64).pow(U256::from(DEMO_TOKEN_DECIMALS))
}

pub(crate) fn token_total_supply() -> U256 {
    U256::from(TOKEN_TOTAL_SUPPLY_UNITS) * one_token()
}

/// EIP-1559 base fee of a child block, from its parent.
pub fn next_base_fee(parent_base_fee: u64, parent_gas_used: u64, parent_gas_limit: u64) -> u64 {
    let target = u128::from(parent_gas_limit / 2);
    let used = u128::from(parent_gas_used);
    let base = u128::from(parent_base_fee);
    if target == 0 || used == target {
        return parent_base_fee;
    }
    if used > target {
        let delta = (base * (used - target) / target / 8).max(1);
        u64::try_from(base + delta).unwrap_or(u64::MAX)
    } else {
        let delta = base * (target - used) / target / 8;
        u64::try_from(base - delta).unwrap_or(0)
    }
}

/// Balances, token balances and nonces of [`ACCOUNTS`] after a block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub eth: [U256; ACCOUNTS.len()],
    pub token: [U256; ACCOUNTS.len()],
    pub nonce: [u64; ACCOUNTS.len()],
}

impl State {
    fn initial() -> Self {
        let ether = U256::from(10u64).pow(U256::from(18));
        let mut eth = [U256::ZERO; ACCOUNTS.len()];
        let mut token = [U256::ZERO; ACCOUNTS.len()];
        for (i, (e, t)) in eth.iter_mut().zip(token.iter_mut()).enumerate() {
            *e = U256::from(100 + 250 * i as u64) * ether;
            *t = U256::from(1_000_000u64 * (i as u64 + 1)) * one_token();
        }
        let others: U256 = token.iter().take(TREASURY).copied().sum();
        token[TREASURY] = token_total_supply() - others;
        Self {
            eth,
            token,
            nonce: [0; ACCOUNTS.len()],
        }
    }

    pub fn account(addr: &Address) -> Option<usize> {
        ACCOUNTS.iter().position(|(a, _)| a == addr)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Log {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
}

#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub hash: B256,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub nonce: u64,
    pub gas: u64,
    pub max_fee: u64,
    pub tip: u64,
    pub input: Bytes,
    pub log: Option<Log>,
}

#[derive(Debug)]
pub(crate) struct Block {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: u64,
    pub gas_used: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub miner: Address,
    pub state_root: B256,
    pub bloom: Bloom,
    pub txs: Vec<Tx>,
    pub state: State,
    /// The header with transaction hashes, serialized once and shared by every
    /// newHeads subscriber and `eth_getBlockBy*` without full transactions.
    pub header_json: OnceLock<Arc<str>>,
}

impl Block {
    /// Logs with their position in the block: (tx index, log index, log).
    pub fn logs(&self) -> impl Iterator<Item = (usize, usize, &Tx, &Log)> {
        self.txs
            .iter()
            .enumerate()
            .filter_map(|(i, tx)| tx.log.as_ref().map(|l| (i, tx, l)))
            .enumerate()
            .map(|(li, (ti, tx, l))| (ti, li, tx, l))
    }
}

/// What changed on the canonical chain: blocks orphaned (oldest first) and blocks
/// added (oldest first; the last one is the new tip).
#[derive(Debug)]
pub(crate) struct ChainEvent {
    pub removed: Vec<Arc<Block>>,
    pub added: Vec<Arc<Block>>,
}

pub(crate) struct Chain {
    rng: fastrand::Rng,
    reorg_probability: f64,
    /// Canonical blocks with state, the last [`HISTORY`].
    blocks: VecDeque<Arc<Block>>,
    /// Every canonical hash since the first block, index = number - first_number.
    hashes: Vec<B256>,
    first_number: u64,
    by_hash: HashMap<B256, Arc<Block>>,
    orphans: VecDeque<B256>,
    /// Hash of this chain's block 0 (not kept, but answered for `eth_getBlockByNumber
    /// 0x0`, which is how clients tell one chain from a fresh one).
    pub genesis: B256,
    /// The next block's transactions between the demo accounts, made as soon as
    /// their parent is: the devnet announces them pending, then mines them.
    upcoming: Option<Upcoming>,
}

/// Demo transactions made ahead for the child of `parent`, the state after them,
/// and their gas.
struct Upcoming {
    parent: B256,
    base_fee: u64,
    txs: Vec<Tx>,
    state: State,
    gas: u64,
}

pub(crate) fn random_b256(rng: &mut fastrand::Rng) -> B256 {
    let mut b = [0u8; 32];
    rng.fill(&mut b);
    B256::from(b)
}

pub(crate) fn random_address(rng: &mut fastrand::Rng) -> Address {
    let mut b = [0u8; 20];
    rng.fill(&mut b);
    Address::from(b)
}

fn word(addr: &Address) -> B256 {
    addr.into_word()
}

impl Chain {
    pub fn new(seed: u64, start_block: u64, reorg_probability: f64, now: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let parent_hash = random_b256(&mut rng);
        let mut chain = Self {
            rng,
            reorg_probability,
            blocks: VecDeque::with_capacity(HISTORY + 1),
            hashes: Vec::new(),
            first_number: start_block,
            by_hash: HashMap::new(),
            orphans: VecDeque::new(),
            genesis: random_b256(&mut fastrand::Rng::with_seed(seed ^ 0x6e6e_6573_6973)),
            upcoming: None,
        };
        let first = chain.make_block(
            start_block,
            parent_hash,
            INITIAL_BASE_FEE,
            State::initial(),
            now,
        );
        chain.push(first);
        chain
    }

    pub fn head(&self) -> &Arc<Block> {
        // The chain is created with one block and reorgs never remove all of them.
        &self.blocks[self.blocks.len() - 1]
    }

    pub fn oldest(&self) -> &Arc<Block> {
        &self.blocks[0]
    }

    pub fn by_number(&self, n: u64) -> Option<&Arc<Block>> {
        let oldest = self.oldest().number;
        let idx = n.checked_sub(oldest)?;
        self.blocks.get(usize::try_from(idx).ok()?)
    }

    pub fn by_hash(&self, h: &B256) -> Option<&Arc<Block>> {
        self.by_hash.get(h)
    }

    /// A transaction of a kept canonical block, with its block and index.
    pub fn tx(&self, h: &B256) -> Option<(&Arc<Block>, usize)> {
        self.blocks
            .iter()
            .rev()
            .find_map(|b| b.txs.iter().position(|t| t.hash == *h).map(|i| (b, i)))
    }

    pub fn canonical_hashes(&self) -> Vec<(u64, B256)> {
        (self.first_number..)
            .zip(self.hashes.iter().copied())
            .collect()
    }

    /// Produces the next block, or with `reorg_probability` replaces the last 1–3.
    pub fn advance(&mut self, now: u64) -> ChainEvent {
        if self.reorg_probability > 0.0 && self.rng.f64() < self.reorg_probability {
            let depth = self.rng.u64(1..=3);
            if let Some(ev) = self.reorg(depth, now) {
                return ev;
            }
        }
        let parent = self.head().clone();
        let block = self.child_of(&parent, now);
        let block = self.push(block);
        ChainEvent {
            removed: Vec::new(),
            added: vec![block],
        }
    }

    /// Orphans the last `depth` blocks and builds a replacement branch of `depth` or
    /// `depth + 1` blocks, so the new tip is at most one above the old one. `None`
    /// when the retained history is too short.
    pub fn reorg(&mut self, depth: u64, now: u64) -> Option<ChainEvent> {
        let depth = usize::try_from(depth).ok()?;
        if depth == 0 || depth >= self.blocks.len() {
            return None;
        }
        let mut removed = Vec::with_capacity(depth);
        for _ in 0..depth {
            let b = self.blocks.pop_back()?;
            self.hashes.pop();
            self.orphans.push_back(b.hash);
            removed.push(b);
        }
        removed.reverse();
        while self.orphans.len() > ORPHANS_KEPT {
            if let Some(h) = self.orphans.pop_front() {
                self.by_hash.remove(&h);
            }
        }
        let count = depth + usize::from(self.rng.bool());
        let mut added = Vec::with_capacity(count);
        for _ in 0..count {
            let parent = self.head().clone();
            let b = self.child_of(&parent, now);
            added.push(self.push(b));
        }
        Some(ChainEvent { removed, added })
    }

    /// The demo transactions the next block will carry, and its base fee.
    pub fn upcoming(&self) -> Option<(u64, &[Tx])> {
        self.upcoming
            .as_ref()
            .filter(|u| u.parent == self.head().hash)
            .map(|u| (u.base_fee, u.txs.as_slice()))
    }

    fn push(&mut self, block: Block) -> Arc<Block> {
        let block = Arc::new(block);
        self.hashes.push(block.hash);
        self.by_hash.insert(block.hash, block.clone());
        self.blocks.push_back(block.clone());
        if self.blocks.len() > HISTORY
            && let Some(old) = self.blocks.pop_front()
        {
            self.by_hash.remove(&old.hash);
        }
        // The child's demo transactions, made now so they can be pending first.
        let base_fee = next_base_fee(block.base_fee, block.gas_used, block.gas_limit);
        let mut state = block.state.clone();
        let (txs, gas) = demo_txs(&mut self.rng, &mut state, base_fee);
        self.upcoming = Some(Upcoming {
            parent: block.hash,
            base_fee,
            txs,
            state,
            gas,
        });
        block
    }

    fn child_of(&mut self, parent: &Block, now: u64) -> Block {
        let base_fee = next_base_fee(parent.base_fee, parent.gas_used, parent.gas_limit);
        self.make_block(
            parent.number + 1,
            parent.hash,
            base_fee,
            parent.state.clone(),
            now.max(parent.timestamp),
        )
    }

    fn make_block(
        &mut self,
        number: u64,
        parent_hash: B256,
        base_fee: u64,
        mut state: State,
        timestamp: u64,
    ) -> Block {
        // The demo transactions made ahead for this parent (announced pending), or
        // new ones (the first block, or a parent replaced by a reorg).
        let (mut txs, demo_gas) = match self.upcoming.take() {
            Some(u) if u.parent == parent_hash && u.base_fee == base_fee => {
                state = u.state;
                (u.txs, u.gas)
            }
            _ => demo_txs(&mut self.rng, &mut state, base_fee),
        };
        let rng = &mut self.rng;
        // Uniform around the target keeps the base fee wandering without drifting.
        let goal = rng.u64(0..=GAS_LIMIT);
        let gas_used = goal.max(demo_gas);
        let fillers = ((gas_used - demo_gas) / 150_000).min(80);
        filler_txs(rng, fillers, base_fee, &mut txs);
        rng.shuffle(&mut txs);
        let bloom = bloom_of(&txs);
        Block {
            number,
            hash: random_b256(rng),
            parent_hash,
            timestamp,
            gas_used,
            gas_limit: GAS_LIMIT,
            base_fee,
            miner: MINERS[rng.usize(0..MINERS.len())],
            state_root: random_b256(rng),
            bloom,
            txs,
            state,
            header_json: OnceLock::new(),
        }
    }
}

/// A block's payments between the demo accounts (ETH and the token), applied to
/// `state`, and their gas.
fn demo_txs(rng: &mut fastrand::Rng, state: &mut State, base_fee: u64) -> (Vec<Tx>, u64) {
    let mut txs = Vec::new();
    let mut gas = eth_transfers(rng, state, base_fee, &mut txs);
    gas += token_transfers(rng, state, base_fee, &mut txs);
    (txs, gas)
}

/// Up to three ETH transfers between the demo accounts; their gas.
fn eth_transfers(
    rng: &mut fastrand::Rng,
    state: &mut State,
    base_fee: u64,
    txs: &mut Vec<Tx>,
) -> u64 {
    let mut demo_gas = 0;
    for _ in 0..rng.usize(0..=3) {
        let (from, to) = two_accounts(rng);
        let tip = rng.u64(100_000_000..=2_000_000_000);
        let fee = U256::from(ETH_TRANSFER_GAS) * U256::from(base_fee + tip);
        let spendable = state.eth[from].saturating_sub(fee);
        if spendable.is_zero() {
            continue;
        }
        let value = spendable / U256::from(rng.u64(50..=1000));
        state.eth[from] -= value + fee;
        state.eth[to] += value;
        txs.push(Tx {
            hash: random_b256(rng),
            from: ACCOUNTS[from].0,
            to: ACCOUNTS[to].0,
            value,
            nonce: state.nonce[from],
            gas: ETH_TRANSFER_GAS,
            max_fee: base_fee * 2 + tip,
            tip,
            input: Bytes::new(),
            log: None,
        });
        state.nonce[from] += 1;
        demo_gas += ETH_TRANSFER_GAS;
    }
    demo_gas
}

/// Up to three transfers of the demo token (each with its `Transfer` log); their gas.
fn token_transfers(
    rng: &mut fastrand::Rng,
    state: &mut State,
    base_fee: u64,
    txs: &mut Vec<Tx>,
) -> u64 {
    let mut demo_gas = 0;
    for _ in 0..rng.usize(0..=3) {
        let (from, to) = two_accounts(rng);
        let tip = rng.u64(100_000_000..=2_000_000_000);
        let fee = U256::from(TOKEN_TRANSFER_GAS) * U256::from(base_fee + tip);
        if state.eth[from] < fee || state.token[from].is_zero() {
            continue;
        }
        let amount = state.token[from] / U256::from(rng.u64(20..=500));
        state.eth[from] -= fee;
        state.token[from] -= amount;
        state.token[to] += amount;
        let mut input = Vec::with_capacity(68);
        input.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
        input.extend_from_slice(word(&ACCOUNTS[to].0).as_slice());
        input.extend_from_slice(&amount.to_be_bytes::<32>());
        txs.push(Tx {
            hash: random_b256(rng),
            from: ACCOUNTS[from].0,
            to: DEMO_TOKEN,
            value: U256::ZERO,
            nonce: state.nonce[from],
            gas: 65_000,
            max_fee: base_fee * 2 + tip,
            tip,
            input: input.into(),
            log: Some(Log {
                address: DEMO_TOKEN,
                topics: vec![
                    TRANSFER_TOPIC,
                    word(&ACCOUNTS[from].0),
                    word(&ACCOUNTS[to].0),
                ],
                data: Bytes::from(amount.to_be_bytes::<32>().to_vec()),
            }),
        });
        state.nonce[from] += 1;
        demo_gas += TOKEN_TRANSFER_GAS;
    }
    demo_gas
}

/// Strangers' transactions that fill the block to its gas goal; one in ten is a
/// swap on the demo pool, with a `Swap` log.
fn filler_txs(rng: &mut fastrand::Rng, fillers: u64, base_fee: u64, txs: &mut Vec<Tx>) {
    for _ in 0..fillers {
        let tip = rng.u64(10_000_000..=3_000_000_000);
        let swap = rng.u8(0..10) == 0;
        let log = swap.then(|| Log {
            address: DEMO_POOL,
            topics: vec![
                SWAP_TOPIC,
                random_address(rng).into_word(),
                random_address(rng).into_word(),
            ],
            data: Bytes::from({
                let mut d = vec![0u8; 64];
                rng.fill(&mut d);
                d
            }),
        });
        let mut input = vec![0u8; if swap { 4 + 32 * 3 } else { 0 }];
        rng.fill(&mut input);
        txs.push(Tx {
            hash: random_b256(rng),
            from: random_address(rng),
            to: if swap { DEMO_POOL } else { random_address(rng) },
            value: U256::from(rng.u64(0..=5_000_000_000_000_000_000)),
            nonce: rng.u64(0..5000),
            gas: rng.u64(21_000..=500_000),
            max_fee: base_fee * 2 + tip,
            tip,
            input: input.into(),
            log,
        });
    }
}

fn bloom_of(txs: &[Tx]) -> Bloom {
    let mut bloom = Bloom::default();
    for tx in txs {
        if let Some(l) = &tx.log {
            bloom.accrue(BloomInput::Raw(l.address.as_slice()));
            for t in &l.topics {
                bloom.accrue(BloomInput::Raw(t.as_slice()));
            }
        }
    }
    bloom
}

fn two_accounts(rng: &mut fastrand::Rng) -> (usize, usize) {
    let from = rng.usize(0..ACCOUNTS.len());
    let to = (from + rng.usize(1..ACCOUNTS.len())) % ACCOUNTS.len();
    (from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_fee_follows_eip1559() {
        assert_eq!(
            next_base_fee(1_000_000_000, 15_000_000, 30_000_000),
            1_000_000_000
        );
        assert_eq!(
            next_base_fee(1_000_000_000, 30_000_000, 30_000_000),
            1_125_000_000
        );
        assert_eq!(next_base_fee(1_000_000_000, 0, 30_000_000), 875_000_000);
        // A tiny excess still raises the fee by at least one wei.
        assert_eq!(next_base_fee(7, 15_000_001, 30_000_000), 8);
    }

    #[test]
    fn same_seed_same_hashes_and_links() {
        let mut a = Chain::new(42, 100, 0.0, 1);
        let mut b = Chain::new(42, 100, 0.0, 999);
        for t in 0..50 {
            a.advance(t);
            b.advance(t + 7);
        }
        assert_eq!(a.canonical_hashes(), b.canonical_hashes());
        let mut c = Chain::new(43, 100, 0.0, 1);
        c.advance(1);
        assert_ne!(a.canonical_hashes()[..2], c.canonical_hashes()[..]);
        for n in 101..=150 {
            let (child, parent) = (a.by_number(n).unwrap(), a.by_number(n - 1).unwrap());
            assert_eq!(child.parent_hash, parent.hash);
            assert_eq!(
                child.base_fee,
                next_base_fee(parent.base_fee, parent.gas_used, parent.gas_limit)
            );
            assert!(child.gas_used <= child.gas_limit);
        }
    }

    #[test]
    fn token_supply_is_conserved_and_logs_match_state() {
        let mut chain = Chain::new(7, 0, 0.0, 0);
        for t in 0..200 {
            chain.advance(t);
        }
        for n in 1..=200 {
            let b = chain.by_number(n).unwrap();
            let prev = &chain.by_number(n - 1).unwrap().state;
            let total: U256 = b.state.token.iter().copied().sum();
            assert_eq!(total, token_total_supply());
            let mut expect = prev.token;
            for (_, _, _, log) in b.logs().filter(|(_, _, _, l)| l.address == DEMO_TOKEN) {
                let from = State::account(&Address::from_word(log.topics[1])).unwrap();
                let to = State::account(&Address::from_word(log.topics[2])).unwrap();
                let amount = U256::from_be_slice(&log.data);
                expect[from] -= amount;
                expect[to] += amount;
            }
            assert_eq!(expect, b.state.token);
        }
    }

    #[test]
    fn reorg_replaces_tip_and_keeps_history_bounded() {
        let mut chain = Chain::new(1, 10, 0.0, 0);
        for t in 0..(HISTORY as u64 + 20) {
            chain.advance(t);
        }
        let old_tip = chain.head().clone();
        let ev = chain.reorg(2, 5000).unwrap();
        assert_eq!(ev.removed.len(), 2);
        assert_eq!(ev.removed[1].hash, old_tip.hash);
        let tip = ev.added.last().unwrap();
        assert!(tip.number == old_tip.number || tip.number == old_tip.number + 1);
        assert_eq!(ev.added[0].parent_hash, ev.removed[0].parent_hash);
        assert!(
            chain.by_hash(&old_tip.hash).is_some(),
            "orphans stay fetchable by hash"
        );
        assert_eq!(chain.head().hash, tip.hash);
        let hashes = chain.canonical_hashes();
        assert_eq!(hashes.last().unwrap(), &(tip.number, tip.hash));
        assert_eq!(hashes.len() as u64, tip.number - 10 + 1);
        assert!(chain.by_number(10).is_none(), "pruned beyond HISTORY");
        assert!(chain.reorg(HISTORY as u64, 0).is_none());
    }
}
