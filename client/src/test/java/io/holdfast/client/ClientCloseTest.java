package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Closing a client ends the calls still retrying in it; none is left waiting forever. */
class ClientCloseTest {
  @Test
  void closeFailsTheCallsStillRetrying() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // free again once closed: every connection is refused
    }
    HoldfastClient client = HoldfastClient.builder().endpoints("127.0.0.1:" + port).memberSync(Duration.ZERO)
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofMinutes(5)))
        .build();
    CompletableFuture<Session> opening = client.newSessionAsync(Duration.ofSeconds(10));
    Thread.sleep(500);
    assertFalse(opening.isDone(), "the open should still be retrying");

    client.close();

    // Its retry was queued on the client's scheduler, which close() shuts down.
    ExecutionException e = assertThrows(ExecutionException.class, () -> opening.get(5, TimeUnit.SECONDS));
    assertInstanceOf(ClusterUnavailableException.class, e.getCause());
  }
}
