package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
    TokenFile tokens = new TokenFile(f);
    assertEquals("alice", tokens.identityOf("tok-a"));

    // A rewrite within the file system's time resolution: same modification time, new content.
    Files.writeString(f, "alice tok-a2\nbob tok-b\n");
    Files.setLastModifiedTime(f, mtime);
    tokens.reload(false);
    assertNull(tokens.identityOf("tok-a"), "the rotated token is refused");
    assertEquals("alice", tokens.identityOf("tok-a2"));
    assertEquals("bob", tokens.identityOf("tok-b"));
  }

  @Test
  void anEmptyOrMalformedFileKeepsTheLastGoodTokensAndCommentsAloneRevokeThemAll() throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), "alice tok-a\n");
    TokenFile tokens = new TokenFile(f);

    Files.writeString(f, ""); // caught half-way through a rewrite
    tokens.reload(false);
    assertEquals("alice", tokens.identityOf("tok-a"));

    Files.writeString(f, "alice tok-a extra-field\n");
    tokens.reload(false);
    assertEquals("alice", tokens.identityOf("tok-a"));

    Files.writeString(f, "# nobody any more\n");
    tokens.reload(false);
    assertNull(tokens.identityOf("tok-a"));
  }
}
