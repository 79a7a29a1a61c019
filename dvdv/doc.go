// Package dvdv finds the recipients of OSCI messages in the DVDV
// (Deutsches Verwaltungsdiensteverzeichnis).
//
// The question the gateway asks is "where and how do I deliver service S to
// organisation K?"; the answer is a [Route]: the OSCI intermediary's URL and
// cipher certificate, the addressee's URI, cipher and signature certificates,
// the window in which all of that is valid, and the raw service description.
// [Directory] is that question as an interface. It has two implementations:
//
//   - [Client], a client of the DVDV2 REST "Directory" API (v2, as published
//     in dvdv2-api-v2.yaml): every query of the API including the batch forms,
//     standalone token authentication (RS256 client assertion), several
//     servers with sticky failover, per-query caching that respects the
//     records' own validity, and typed errors.
//   - dvdvfile.Directory (package dvdv/dvdvfile), a YAML/JSON file for local
//     runs and tests.
//
// Package dvdv/dvdvtest serves the DVDV2 API from such a file over HTTP (a fake
// DVDV server with token authentication and injectable failures).
//
// Certificates are checked every time a route is built: a certificate that is
// revoked (revocationDate or revocationReason set), outside its validity
// window (the directory's and the X.509 one), unparsable, or whose published
// fingerprint does not match its content is never returned as usable.
//
// For XAusländer, [ABHList] reads the code list of foreign-residents offices
// (urn:de:xauslaender:codelist:abhkennung) and turns an office key (BHKNZ) into
// a DVDV organisation key, and [ServiceURIs] gives the DVDV service URI per
// XAusländer version.
//
// The package knows nothing about OSCI wire details; it only hands over URLs
// and certificates.
package dvdv
