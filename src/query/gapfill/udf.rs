//! The marker functions of a gap-filling query: `date_bin_gapfill`, `locf` and `interpolate`.
//!
//! None of them can be evaluated: [`super::rule::HandleGapFill`] removes them from the plan
//! (turning `date_bin_gapfill` into DataFusion's `date_bin` below a `GapFill` node, and `locf` /
//! `interpolate` into fill strategies of that node). A call it could not remove fails with the
//! rule's planning error, or at the latest with "not implemented" here. Design from InfluxDB 3's
//! `query_functions/src/gapfill.rs` (`GapFillWrapper`, `LocfUDF`, `InterpolateUDF`).

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Name of the gap-filling `date_bin`.
pub const DATE_BIN_GAPFILL: &str = "date_bin_gapfill";
/// Name of "last observation carried forward".
pub const LOCF: &str = "locf";
/// Name of linear interpolation.
pub const INTERPOLATE: &str = "interpolate";

/// `date_bin_gapfill(stride, ts[, origin])`: `date_bin`'s signature and result type, marked
/// volatile so no optimizer folds it away before the rule sees it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateBinGapfill {
    date_bin: Arc<ScalarUDF>,
    signature: Signature,
}

impl DateBinGapfill {
    /// The marker around DataFusion's `date_bin`.
    pub fn new() -> Self {
        let date_bin = datafusion::functions::datetime::date_bin();
        let signature = Signature {
            type_signature: date_bin.signature().type_signature.clone(),
            volatility: Volatility::Volatile,
            parameter_names: None,
        };
        DateBinGapfill {
            date_bin,
            signature,
        }
    }

    /// DataFusion's `date_bin`, which replaces this marker in the aggregate.
    pub fn date_bin(&self) -> &Arc<ScalarUDF> {
        &self.date_bin
    }
}

impl Default for DateBinGapfill {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DateBinGapfill {
    fn name(&self) -> &str {
        DATE_BIN_GAPFILL
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.date_bin.return_type(arg_types)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.date_bin.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(not_rewritten(DATE_BIN_GAPFILL))
    }
}

/// `locf(aggregate)` and `interpolate(aggregate)`: one argument of any type, result of the
/// same type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FillFunction {
    name: &'static str,
    signature: Signature,
}

impl FillFunction {
    /// `locf`.
    pub fn locf() -> Self {
        Self::named(LOCF)
    }

    /// `interpolate`.
    pub fn interpolate() -> Self {
        Self::named(INTERPOLATE)
    }

    fn named(name: &'static str) -> Self {
        FillFunction {
            name,
            signature: Signature::any(1, Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for FillFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        arg_types.first().cloned().ok_or_else(|| {
            DataFusionError::Plan(format!("{} expects exactly one argument", self.name))
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(not_rewritten(self.name))
    }
}

fn not_rewritten(name: &str) -> DataFusionError {
    DataFusionError::NotImplemented(format!(
        "{name} can only be used in a gap-filling query (see date_bin_gapfill)"
    ))
}

/// The three marker functions, to register in a session.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(DateBinGapfill::new())),
        Arc::new(ScalarUDF::from(FillFunction::locf())),
        Arc::new(ScalarUDF::from(FillFunction::interpolate())),
    ]
}
