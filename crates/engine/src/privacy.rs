//! People's data rights, for front ends: a person's export and forgetting them. The store
//! gathers and deletes (`mcpcord_memory::Store::personal_data`, `forget_person`); the engine
//! also drops what it holds in memory about them (the vector index's codes of their messages,
//! tools they allowed "always" in a conversation) and records each request in the audit log.

use mcpcord_memory::{AuditEntry, ForgetReport, PersonalData, UserId};

use crate::{Engine, EngineError};

/// Which data-rights request a person (or the operator for them) made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataRightsRequest {
    /// A copy of everything stored about them.
    Export,
    /// Forget them.
    Forget,
}

impl DataRightsRequest {
    /// The request's name in logs and the audit trail: `export` or `forget`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Forget => "forget",
        }
    }
}

impl Engine {
    /// Everything stored about `user` (see [`PersonalData`]); serialise it with `serde_json`.
    pub async fn privacy_export(&self, user: UserId) -> Result<PersonalData, EngineError> {
        // Every audit entry recorded so far is in the export.
        self.audit_flush().await;
        let data = self.store().personal_data(user).await?;
        self.record_data_rights(user, DataRightsRequest::Export);
        Ok(data)
    }

    /// Forgets `user`: their messages, vectors, index entries, preferences and name; the
    /// conversations only they took part in; in shared ones their messages become a note and
    /// the answers stay. Returns what was removed.
    pub async fn privacy_forget(&self, user: UserId) -> Result<ForgetReport, EngineError> {
        let report = self.store().forget_person(user).await?;
        if let Some(index) = &self.inner.vectors {
            index.remove(&report.messages);
        }
        self.inner
            .always_allowed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, person), _| *person != Some(user));
        self.record_data_rights(user, DataRightsRequest::Forget);
        Ok(report)
    }

    /// Records a data-rights request about `user` in the audit log (their id only, never their
    /// data), as asked by themselves. The one place these requests are audited from.
    fn record_data_rights(&self, user: UserId, request: DataRightsRequest) {
        self.audit(AuditEntry::data_rights(
            Some(user),
            None,
            user,
            request.as_str(),
        ));
    }
}
