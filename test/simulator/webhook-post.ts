// How Twilio posts a webhook, as its connection defaults document them ("Webhooks connection overrides":
// retry count rc=1, retrying when its connection to the webhook fails): a connection that is refused,
// reset or closed before any response is tried once more. A response, whatever its status, is final, and
// so is a timeout (the read timeout is not retried by default). Without the retry, a keep-alive
// connection that a reloading nginx closed just as a request went out on it lost the call, where Twilio
// would have retried it.

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs?: number,
): Promise<Response> {
  const post = () =>
    fetch(url, {
      method: 'POST',
      headers,
      body,
      ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    });
  try {
    return await post();
  } catch (error) {
    if (error instanceof DOMException && error.name === 'TimeoutError') throw error;
    return post();
  }
}
