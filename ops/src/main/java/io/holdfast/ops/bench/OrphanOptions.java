package io.holdfast.ops.bench;

import io.holdfast.ops.cli.Durations;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The options of W5 (orphan reclaim), the same for Holdfast and the peers. */
final class OrphanOptions {
  @Option(names = "--trials", description = "holder kills (default ${DEFAULT-VALUE})")
  int trials = 5;

  @Option(names = "--ttl", converter = Durations.class, description = "the holder's session TTL / lease TTL (default 5s)")
  Duration ttl = Duration.ofSeconds(5);

  @Option(names = "--seed", description = "seed for the kill times within the keepalive cycle (default: random, printed)")
  Long seed;

  String problem() {
    if (trials < 1 || trials > 1_000) {
      return "--trials must be between 1 and 1000, got " + trials;
    }
    if (ttl.toMillis() < 1_000 || ttl.toMillis() > 120_000) {
      return "--ttl must be between 1s and 120s, got " + Durations.format(ttl);
    }
    return null;
  }
}
