"""The level-3 loop: alert → retraining job → challenger against champion → promotion (or a
request for one) → automatic rollback. Jobs are durable store rows run by ``jupyter mlm worker``
or the server extension; every step is an audit event linked to the ones before it."""
