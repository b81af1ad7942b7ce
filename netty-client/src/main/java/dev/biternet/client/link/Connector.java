package dev.biternet.client.link;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Makes one connection of a link: a new channel for {@code handler}, going out the way
 * {@code spec} says, to the server's address for the link's turn ({@link ServerAddresses}). The
 * download's connector binds to the link's device and address and, with TLS, verifies the server;
 * tests use one of their own. {@link Link} and {@link Flow} know nothing of how a connection is
 * made.
 */
@FunctionalInterface
public interface Connector {
    /** Completes once connected (with TLS: once the server is verified), or fails with why not. */
    CompletableFuture<Void> connect(LinkSpec spec, int turn, LinkHandler handler);

    /** How many of the server's addresses a link going out as {@code spec} can try (its turns before they repeat). */
    default int addresses(LinkSpec spec) {
        return 1;
    }

    /** Waits for a connect: null once connected, else why it failed. */
    static Throwable await(CompletableFuture<Void> connect) throws InterruptedException {
        try {
            connect.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }
}
