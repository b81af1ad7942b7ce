/**
 * What the two commands' command lines share: the version line, reading the access token file
 * the same way on both sides, the one-line cause of an error for the user, and sizes as users
 * type and read them ({@link dev.biternet.common.cli.Sizes}). No command is
 * declared here, and nothing here knows the server or the client.
 */
package dev.biternet.common.cli;
