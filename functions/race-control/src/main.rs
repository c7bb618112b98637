//! The race-control Lambda: its adapters from the environment, the pipeline's
//! race-control batch ([`burnbar_pipeline::control`]), served on Kinesis batches.

// Race control's future nests the SDK's (DynamoDB, SQS), the writer client's and the
// pipeline's (a car taken out is committed as the processor commits it): deeper than
// the default limit when its layout is computed.
#![recursion_limit = "256"]

use burnbar_aws::function::StreamAdapters;
use burnbar_lambda::runtime::{Error, configured, serve_kinesis};
use burnbar_pipeline::Control;

const FUNCTION: &str = "race-control";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let aws = configured(FUNCTION, StreamAdapters::from_env().await)?;
    let cfg = aws.config();
    let control = Control::new(aws.store, aws.publisher, aws.quarantine, cfg);
    serve_kinesis(FUNCTION, &control).await
}
