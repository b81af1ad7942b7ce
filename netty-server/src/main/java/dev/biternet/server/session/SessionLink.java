package dev.biternet.server.session;

import dev.biternet.proto.Envelope;

/** What a session needs from one attached channel: a way to wake it and to tell it things. */
public interface SessionLink {
    /** There may be new pieces to claim; called from any thread. */
    void wake();

    /** Sends a control message on this link; called from any thread. */
    void send(Envelope envelope);

    /** The session ended with an error; the link reports it and closes. */
    void fail(Envelope error);
}
