package xauslaender

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/xagw/xagw/schemas"
)

// Problem kinds the Validator adds to those of package schemas
// (schemas.KindXML, KindSchema, KindCodeList, KindUnsupported,
// KindInternal).
const (
	// KindHeader: the Nachrichtenkopf breaks a rule the XSD cannot express:
	// nachrichtentyp differs from the root element's type, nachrichtenUUID
	// (or ausloeserUUID, or the id of a rejected message) is not a UUID,
	// leser or autor is missing or has no kennung, erstellungszeitpunkt has
	// no time zone. An office rejects such a message (it cannot route,
	// link or date it).
	KindHeader = "header"
	// KindVersion: the root attributes standard and version do not name
	// the standard and version of the root element's namespace.
	KindVersion = "version"
)

// The header fields read in the validation pass, as paths below the root
// element (see headerPaths). Every XAusländer and XInneres message has the
// same frame, so one list serves every type; fields a type does not have
// are simply never present.
const (
	hRoot = iota
	hStandard
	hVersion
	hKopf
	hIdent
	hUUID
	hTyp
	hZeit
	hLeser
	hLeserDienst
	hLeserKennung
	hLeserName
	hAutor
	hAutorDienst
	hAutorKennung
	hAutorName
	hAntrag
	hAusloeser
	hRejected
	nHeader
)

const (
	pKopf  = "/nachrichtenkopf.g2g"
	pIdent = pKopf + "/identifikation.nachricht"
)

var headerSuffix = [nHeader]string{
	hRoot:         "",
	hStandard:     "/@standard",
	hVersion:      "/@version",
	hKopf:         pKopf,
	hIdent:        pIdent,
	hUUID:         pIdent + "/nachrichtenUUID",
	hTyp:          pIdent + "/nachrichtentyp/code",
	hZeit:         pIdent + "/erstellungszeitpunkt",
	hLeser:        pKopf + "/leser",
	hLeserDienst:  pKopf + "/leser/verzeichnisdienst/code",
	hLeserKennung: pKopf + "/leser/kennung",
	hLeserName:    pKopf + "/leser/name",
	hAutor:        pKopf + "/autor",
	hAutorDienst:  pKopf + "/autor/verzeichnisdienst/code",
	hAutorKennung: pKopf + "/autor/kennung",
	hAutorName:    pKopf + "/autor/name",
	hAntrag:       "/antragsidentifikation",
	hAusloeser:    "/ausloeserUUID",
	hRejected:     "/rueckweisung/idNachricht/nachrichtenUUID",
}

// headerPaths returns the capture paths for a root element.
func headerPaths(local string) []string {
	out := make([]string, nHeader)
	for i, s := range headerSuffix {
		out[i] = "/" + local + s
	}
	return out
}

// headerOfCaptures reads the header fields from the captured values (for
// documents that are not parsed into the model: invalid or untyped ones).
func headerOfCaptures(c []schemas.Capture) Header {
	if len(c) != nHeader {
		return Header{}
	}
	t := func(i int) string { return strings.TrimSpace(c[i].Value) }
	return Header{
		NachrichtenUUID:       t(hUUID),
		Nachrichtentyp:        t(hTyp),
		Erstellungszeitpunkt:  t(hZeit),
		Autor:                 Behoerde{Verzeichnisdienst: t(hAutorDienst), Kennung: t(hAutorKennung), Name: t(hAutorName)},
		Leser:                 Behoerde{Verzeichnisdienst: t(hLeserDienst), Kennung: t(hLeserKennung), Name: t(hLeserName)},
		Antragsidentifikation: t(hAntrag),
		AusloeserUUID:         t(hAusloeser),
		RejectedUUID:          t(hRejected),
		Standard:              c[hStandard].Value,
		StandardVersion:       c[hVersion].Value,
	}
}

// checkHeader applies the header rules to the captured values of a
// document of type ti and adds what it finds to r.
func checkHeader(ti *typeInfo, r *schemas.Result) {
	c := r.Captures
	if len(c) != nHeader || !c[hRoot].Present {
		return // the document did not reach the validation pass
	}
	root := "/" + ti.spec.Element
	line := func(i, parent int) int {
		if c[i].Present {
			return c[i].Line
		}
		if c[parent].Present {
			return c[parent].Line
		}
		return c[hRoot].Line
	}
	add := func(kind string, i, parent int, format string, args ...any) {
		p := headerSuffix[i]
		if i == hTyp {
			p = strings.TrimSuffix(p, "/code") // the coded element, as code-list problems name it
		}
		r.Add(schemas.Problem{Kind: kind, Path: root + p, Line: line(i, parent), Message: fmt.Sprintf(format, args...)})
	}
	for _, a := range []struct {
		i          int
		name, want string
	}{{hStandard, "standard", ti.standard}, {hVersion, "version", ti.version}} {
		switch got := c[a.i]; {
		case a.want == "":
		case !got.Present:
			add(KindVersion, a.i, hRoot, "root attribute %s is missing; namespace %s is %s %s", a.name, ti.spec.Namespace, a.name, a.want)
		case got.Value != a.want:
			add(KindVersion, a.i, hRoot, "root attribute %s is %q; namespace %s is %s %s", a.name, got.Value, ti.spec.Namespace, a.name, a.want)
		}
	}
	if !c[hKopf].Present {
		add(KindHeader, hKopf, hRoot, "nachrichtenkopf.g2g is missing")
		return
	}
	if !c[hIdent].Present {
		add(KindHeader, hIdent, hKopf, "identifikation.nachricht is missing")
	} else {
		switch u := c[hUUID]; {
		case !u.Present:
			add(KindHeader, hUUID, hIdent, "nachrichtenUUID is missing")
		case !IsUUID(u.Value):
			add(KindHeader, hUUID, hIdent, "nachrichtenUUID %q is not a UUID (RFC 4122 form: 8-4-4-4-12 hexadecimal digits)", shorten(u.Value))
		}
		switch typ := c[hTyp]; {
		case !typ.Present:
			add(KindHeader, hTyp, hIdent, "nachrichtentyp has no code; the root element %s is type %s", ti.spec.Element, ti.spec.Code)
		case collapse(typ.Value) != ti.spec.Code:
			add(KindHeader, hTyp, hIdent, "nachrichtentyp %q does not match the root element %s (type %s)", shorten(collapse(typ.Value)), ti.spec.Element, ti.spec.Code)
		}
		if z := c[hZeit]; z.Present && !hasZone(collapse(z.Value)) {
			add(KindHeader, hZeit, hIdent, "erstellungszeitpunkt %q has no time zone; XÖV requires the creation time with its zone, e.g. 2026-03-02T09:15:00.000+01:00", shorten(collapse(z.Value)))
		}
	}
	for _, who := range []struct {
		el, kennung int
		name        string
	}{{hLeser, hLeserKennung, "leser"}, {hAutor, hAutorKennung, "autor"}} {
		switch {
		case !c[who.el].Present:
			add(KindHeader, who.el, hKopf, "%s is missing", who.name)
		case strings.TrimSpace(c[who.kennung].Value) == "":
			add(KindHeader, who.kennung, who.el, "%s has no kennung (Behördenkennung)", who.name)
		}
	}
	for _, ref := range []struct {
		i    int
		what string
	}{{hAusloeser, "ausloeserUUID"}, {hRejected, "the rejected message's nachrichtenUUID"}} {
		if v := c[ref.i]; v.Present && !IsUUID(v.Value) {
			add(KindHeader, ref.i, hRoot, "%s %q is not a UUID (RFC 4122 form: 8-4-4-4-12 hexadecimal digits)", ref.what, shorten(v.Value))
		}
	}
}

// IsUUID reports whether s has the UUID form XÖV requires (bn-uq-g2g:UUID:
// 8-4-4-4-12 hexadecimal digits, nothing around them).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// hasZone reports whether an xs:dateTime value carries a time zone. Values
// that are not dateTimes at all are left to the XSD (true), so one defect
// gets one finding.
func hasZone(s string) bool {
	i := 0
	if strings.HasPrefix(s, "-") {
		i = 1
	}
	digits := func(n int) bool {
		if len(s) < i+n {
			return false
		}
		for k := 0; k < n; k++ {
			if s[i+k] < '0' || s[i+k] > '9' {
				return false
			}
		}
		i += n
		return true
	}
	lit := func(c byte) bool {
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	if !digits(4) {
		return true
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++ // years beyond 9999
	}
	if !(lit('-') && digits(2) && lit('-') && digits(2) && lit('T') && digits(2) && lit(':') && digits(2) && lit(':') && digits(2)) {
		return true
	}
	if lit('.') {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	rest := s[i:]
	return rest != "" // "Z" or "+01:00"; anything else is the XSD's to report
}

// collapse applies xs:token whitespace handling.
func collapse(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// shorten keeps quoted document values in messages short.
func shorten(s string) string {
	if len(s) <= 60 {
		return s
	}
	i := 60
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
