//! The AWS adapters against `moto` on loopback: DynamoDB (conditional writes from two
//! writers, TTL honoured on read, the race items), the SageMaker runtime predictor (seeded
//! answers, a bad answer, a timeout, the breaker opening and recovering), SQS quarantine,
//! the processor end to end on the real adapters, and Kinesis → the processor: records
//! put on a stream, read back into the events Lambda delivers.
//!
//! Each test starts its own `moto_server` on 127.0.0.1 and kills it when done; the
//! README's test command installs it (`scripts/setup-lambda`).
//!
//! One test binary: the cases are in modules by subject; the helpers they share are
//! here.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use burnbar_aws::dynamo::DynamoStore;
use burnbar_aws::sagemaker::SageMakerPredictor;
use burnbar_aws::sqs::SqsQuarantine;
use burnbar_aws::testkit::Moto;
use burnbar_core::CarId;
use burnbar_core::car::{CarState, WindowFeatures};
use burnbar_metrics::MetricSet;
use burnbar_pipeline::breaker::{Breaker, BreakerState, Fallback};
use burnbar_pipeline::memory::{MemoryPublisher, NoPredictor};
use burnbar_pipeline::ports::{
    CarItem, CarStore, PortError, Predictor, RaceStore, Saved, StoredEvent,
};
use burnbar_pipeline::{InRecord, Processor, ProcessorConfig};
use tokio::time::Instant;

mod dynamo;
mod kinesis;
mod predictor;
mod processor;

fn dl() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn car(c: &str) -> CarId {
    CarId::parse(c).unwrap()
}
