//! Watched contracts on a network and what their views last answered.

use alloy_primitives::Address;

use super::NetworkState;
use crate::event::ViewValue;

/// A watched contract and its views, in config order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractRow {
    pub address: Address,
    pub label: String,
    pub views: Vec<ViewRow>,
}

/// One view of a contract and what it last answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    /// The signature as configured, e.g. `balanceOf(address)(uint256)`.
    pub call: String,
    /// Latest answer (`Err`: revert reason or error, for this view only).
    pub value: Option<Result<ViewValue, String>>,
    /// Block of the latest answer.
    pub block: Option<u64>,
    /// Block at which the answer last changed (highlight it when it is the latest).
    pub last_change_block: Option<u64>,
    /// The answer before the last change.
    pub previous: Option<Result<ViewValue, String>>,
}

impl ViewRow {
    pub fn new(call: impl Into<String>) -> Self {
        Self {
            call: call.into(),
            value: None,
            block: None,
            last_change_block: None,
            previous: None,
        }
    }
}

impl NetworkState {
    /// Lines of the contracts pane: one per contract and one per view.
    pub fn contract_lines(&self) -> usize {
        self.contracts.iter().map(|c| 1 + c.views.len()).sum()
    }

    pub(super) fn apply_view(
        &mut self,
        contract: Address,
        index: usize,
        block: u64,
        value: Result<ViewValue, String>,
    ) -> bool {
        let Some(row) = self
            .contracts
            .iter_mut()
            .find(|c| c.address == contract)
            .and_then(|c| c.views.get_mut(index))
        else {
            return false;
        };
        row.block = Some(block);
        if row.value.as_ref() == Some(&value) {
            return false;
        }
        if row.value.is_some() {
            row.last_change_block = Some(block);
        }
        row.previous = row.value.replace(value);
        true
    }
}
