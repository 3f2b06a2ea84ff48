package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;

/** {@code lock run}'s command must follow {@code --}, or its options would be read as lock run's own. */
class LockRunArgumentsTest {
  private static String[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = io.holdfast.ops.HoldfastCli.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  @Test
  void aCommandWithoutTheDoubleDashIsAUsageErrorAndNothingIsAskedFor() {
    // --wait was meant for deploy.sh: taken as lock run's, it would silently bound the wait.
    String[] r = run("lock", "run", "deploy/x", "--endpoints", "127.0.0.1:1", "./deploy.sh", "--wait", "5s");
    assertEquals("2", r[0], r[2]);
    assertTrue(r[2].contains("put -- between the options and the command"), r[2]);
  }

  @Test
  void theNameAfterTheDoubleDashIsAUsageErrorToo() {
    String[] r = run("lock", "run", "--endpoints", "127.0.0.1:1", "--", "deploy/x", "./deploy.sh");
    assertEquals("2", r[0], r[2]);
    assertTrue(r[2].contains("put -- between"), r[2]);
  }

  @Test
  void aConflictExitCodeOutsideWhatAProcessCanReturnIsRefused() {
    // 0 would report "nothing ran" as success; above 255 the shell would see it modulo 256.
    for (String n : new String[] {"0", "256", "-1"}) {
      String[] r = run("lock", "run", "deploy/x", "--endpoints", "127.0.0.1:1", "--conflict-exit-code", n, "--",
          "./deploy.sh");
      assertEquals("2", r[0], n + ": " + r[2]);
      assertTrue(r[2].contains("--conflict-exit-code must be between 1 and 255"), r[2]);
    }
  }
}
