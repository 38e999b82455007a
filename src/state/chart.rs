//! The chart of each network card (`c` cycles it): what it plots, and the series of
//! every network kept for it.

use super::NetworkState;

/// Samples kept per series.
pub const SAMPLES_KEPT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chart {
    BlockTime,
    BaseFee,
    #[default]
    GasUsed,
    Txs,
    Pending,
    Ping,
    Http,
}

impl Chart {
    const ORDER: [Chart; 7] = [
        Chart::BlockTime,
        Chart::BaseFee,
        Chart::GasUsed,
        Chart::Txs,
        Chart::Pending,
        Chart::Ping,
        Chart::Http,
    ];

    pub fn next(self) -> Self {
        let i = Self::ORDER.iter().position(|c| *c == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    /// What the chart's title calls it, and the unit of its values.
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            Chart::BlockTime => ("block time", "s"),
            Chart::BaseFee => ("base fee", " gwei"),
            Chart::GasUsed => ("gas used", "%"),
            Chart::Txs => ("txs/block", ""),
            Chart::Pending => ("pending", "/s"),
            Chart::Ping => ("ping", " ms"),
            Chart::Http => ("http", " ms"),
        }
    }
}

impl NetworkState {
    /// The last `max` values of `chart`, oldest first.
    pub fn series(&self, chart: Chart, max: usize) -> Vec<f64> {
        let heads = || {
            let skip = self.heads.len().saturating_sub(max);
            self.heads.iter().skip(skip).map(|r| &r.head)
        };
        let ring = |r: &super::Ring<f64>| {
            let skip = r.len().saturating_sub(max);
            r.iter().skip(skip).copied().collect()
        };
        match chart {
            Chart::BlockTime => {
                let skip = self.heads.len().saturating_sub(max + 1);
                let ts: Vec<u64> = self
                    .heads
                    .iter()
                    .skip(skip)
                    .map(|r| r.head.timestamp)
                    .collect();
                ts.windows(2)
                    .map(|w| w[1].saturating_sub(w[0]) as f64)
                    .collect()
            }
            Chart::BaseFee => heads()
                .filter_map(|h| h.base_fee)
                .map(|f| f.saturating_to::<u128>() as f64 / 1e9)
                .collect(),
            Chart::GasUsed => heads()
                .map(|h| {
                    if h.gas_limit == 0 {
                        0.0
                    } else {
                        h.gas_used as f64 * 100.0 / h.gas_limit as f64
                    }
                })
                .collect(),
            Chart::Txs => heads().filter_map(|h| h.tx_count).map(f64::from).collect(),
            Chart::Pending => ring(&self.pending_history),
            Chart::Ping => ring(&self.ping_history),
            Chart::Http => ring(&self.http_history),
        }
    }
}
