package sshhost

import "golang.org/x/crypto/ssh"

func marshal(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }
