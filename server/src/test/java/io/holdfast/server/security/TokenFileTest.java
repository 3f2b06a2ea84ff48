package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {
  @TempDir
  Path dir;

  @Test
  void aRewriteIsSeenEvenWhenItKeepsTheModificationTime() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "# identity token\nalice tok-a\n");
    FileTime mtime = Files.getLastModifiedTime(f);
    TokenFile tokens = new TokenFile(f, 0);
    assertEquals("alice", tokens.identityOf("tok-a"));

    // A rewrite within the file system's time resolution: same modification time, new content.
    Files.writeString(f, "alice tok-a2\nbob tok-b\n");
    Files.setLastModifiedTime(f, mtime);
    tokens.reload(false);
    tokens.reload(false); // taken at the second read that finds it
    assertNull(tokens.identityOf("tok-a"), "the rotated token is refused");
    assertEquals("alice", tokens.identityOf("tok-a2"));
    assertEquals("bob", tokens.identityOf("tok-b"));
  }

  @Test
  void anEmptyOrMalformedFileKeepsTheLastGoodTokensAndCommentsAloneRevokeThemAll() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "alice tok-a\n");
    TokenFile tokens = new TokenFile(f, 0);

    Files.writeString(f, ""); // caught half-way through a rewrite
    tokens.reload(false);
    tokens.reload(false);
    assertEquals("alice", tokens.identityOf("tok-a"));

    Files.writeString(f, "alice tok-a extra-field\n");
    tokens.reload(false);
    tokens.reload(false); // read twice: taken if it were well-formed
    assertEquals("alice", tokens.identityOf("tok-a"));

    Files.writeString(f, "# nobody any more\n");
    tokens.reload(false);
    tokens.reload(false);
    assertNull(tokens.identityOf("tok-a"));
  }

  @Test
  void aFileCaughtHalfWayThroughARewriteIsNotTaken() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "alice aaaaaaaa\nbob 0123456789abcdef\n");
    TokenFile tokens = new TokenFile(f);

    Files.writeString(f, "alice aaaaaaaa\nbob 01"); // what a reader sees while it is rewritten in place
    tokens.reload(false);
    assertNull(tokens.identityOf("01"), "a token cut short is not bob's");
    assertEquals("bob", tokens.identityOf("0123456789abcdef"));

    Files.writeString(f, "alice aaaaaaaa\nbob 0123456789abcdef\ncarol cccccccc\n"); // the rewrite done
    tokens.reload(false);
    tokens.reload(false);
    assertNull(tokens.identityOf("cccccccc"), "read twice within half a second: not yet");
    Thread.sleep(600);
    tokens.reload(false);
    assertEquals("carol", tokens.identityOf("cccccccc"));
    assertNull(tokens.identityOf("01"));
  }

  @Test
  void theNameOfUnauthenticatedClientsIsNotAnIdentityAFileMayGive() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "alice aaaa\nanonymous bbbb\n");
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new TokenFile(f));
    assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("unauthenticated"), e.getMessage());
  }

  @Test
  void oneTokenForTwoIdentitiesIsRefused() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "alice s3cret\nbob s3cret\n");
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new TokenFile(f));
    assertTrue(e.getMessage().startsWith("auth-token-file") && e.getMessage().contains("line 2"), e.getMessage());
  }
}
