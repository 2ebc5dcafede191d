//! The DataFusion session tsdb plans and runs queries in.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session with `information_schema`, tsdb's analyzer rules (`super::coercion`) and its
/// physical rule [`super::last_row::LastRowRule`], run first, on the plan as the planner
/// built it (see its docs), before DataFusion's own rules.
pub fn new_session() -> SessionContext {
    let config = SessionConfig::new().with_information_schema(true);
    let mut physical_rules = PhysicalOptimizer::new().rules;
    physical_rules.insert(0, Arc::new(super::last_row::LastRowRule));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_analyzer_rules(super::coercion::analyzer_rules())
        .with_physical_optimizer_rules(physical_rules)
        .build();
    SessionContext::new_with_state(state)
}
