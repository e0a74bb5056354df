//! Any number of calls as a stream of results, 50 per `batch`, in input order.

use futures::stream::{self, Stream, StreamExt};

use super::{Batch, BatchKey, MAX_COMMANDS};
use crate::client::Client;
use crate::error::Result;
use crate::method::Method;

/// How many batches are in flight at once; the rate limiter decides when each is sent.
pub(crate) const IN_FLIGHT: usize = 4;

/// Groups an iterator into chunks of at most 50, lazily.
struct Chunks<I>(I);

impl<I: Iterator> Iterator for Chunks<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk: Vec<_> = self.0.by_ref().take(MAX_COMMANDS).collect();
        (!chunk.is_empty()).then_some(chunk)
    }
}

async fn send_chunk<M: Method>(client: Client, chunk: Vec<M>) -> Vec<Result<M::Output>> {
    let mut batch = Batch::new(client);
    let keys: Vec<BatchKey<M::Output>> =
        chunk.into_iter().map(|method| batch.add(method)).collect();
    match batch.send().await {
        Ok(mut reply) => keys.iter().map(|key| reply.take(key)).collect(),
        // The whole batch failed: every one of its commands reports it, so none is mistaken
        // for a success and the caller can tell which ones to send again.
        Err(error) => keys.iter().map(|_| Err(error.copy())).collect(),
    }
}

/// See [`Client::batch_all`].
pub(crate) fn batch_all<M, I>(
    client: Client,
    methods: I,
    in_flight: usize,
) -> impl Stream<Item = Result<M::Output>> + Send + 'static
where
    M: Method,
    I: IntoIterator<Item = M>,
    I::IntoIter: Send + 'static,
{
    stream::iter(Chunks(methods.into_iter()))
        .map(move |chunk| send_chunk(client.clone(), chunk))
        .buffered(in_flight.max(1))
        .flat_map(stream::iter)
}
