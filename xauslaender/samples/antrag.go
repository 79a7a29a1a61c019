package samples

import (
	"github.com/xagw/xagw/xauslaender"
	x "github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Code list versions of lists that are not part of the schema bundle, so
// the samples must name them (lists in the bundle are filled in by
// Sender.Prepare from the bundle).
const (
	staatListVersion = "2021-02-19" // destatis Staatsangehörigkeit
	kanalListVersion = "3"          // XÖV Erreichbarkeit
)

// Destatis nationality keys used in the samples.
const (
	staatDeutsch = "000"
	staatIndien  = "436"
	staatSyrien  = "475"
	staatUkraine = "166"
	staatPolen   = "152"
)

func name(s string) x.AllgemeinerName { return x.AllgemeinerName{Name: xsd.Ptr(s)} }

func staat(code string) x.AngabenZumStaat {
	return x.AngabenZumStaat{Staatsangehoerigkeit: x.CodeStaatsangehoerigkeit{Code: code, ListVersionID: staatListVersion}}
}

func geschlecht(code string) x.Geschlecht {
	return x.Geschlecht{Geschlecht: &x.CodeGeschlecht{Code: code}}
}

func geburt(ort, staatCode string, tag xsd.Date) x.Geburt {
	g := x.Geburt{
		Geburtsort:   x.Geburtsort{Ort: xsd.Ptr(ort)},
		TagDerGeburt: x.TeilbekanntesDatumMitUnbekannt{TeilbekanntesDatum: &x.TeilbekanntesDatum{JahrMonatTag: xsd.Ptr(tag)}},
	}
	if staatCode != "" {
		s := staat(staatCode)
		g.GeburtsortStaat = &s
	}
	return g
}

func kanal(code, kennung string) x.KommunikationType {
	return x.KommunikationType{Kanal: x.CodeKommunikationKanalType{Code: code, ListVersionID: kanalListVersion}, Kennung: kennung}
}

func anschrift(strasse, nr, plz, ort string) *x.PostalischeInlandsanschriftBasis {
	return &x.PostalischeInlandsanschriftBasis{Strasse: strasse, Hausnummer: xsd.Ptr(nr), Postleitzahl: plz, Wohnort: ort}
}

func gebaeude(strasse, nr, plz, ort string) x.PostalischeInlandsanschriftGebaeudeanschrift {
	return x.PostalischeInlandsanschriftGebaeudeanschrift{PostalischeInlandsanschriftBasis: *anschrift(strasse, nr, plz, ort)}
}

// Document format codes (XA.Dokumentformat 2).
const (
	formatPDF = "1"
	formatJPG = "2"
)

func dokument(data []byte, format string) x.OZGDokument {
	return x.OZGDokument{Dokument: data, Dokumententyp: x.CodeDokumentformat{Code: format}}
}

// inline is a document delivered inside the message (base64).
func inline(data []byte, format, dateiname string) x.OZGDokumentOderReferenz {
	return x.OZGDokumentOderReferenz{
		DokumentOderReferenz: x.OZGDokumentOderReferenzDokumentOderReferenz{Dokument: xsd.Ptr(data)},
		Dokumententyp:        x.CodeDokumentformat{Code: format},
		Dateiname:            xsd.Ptr(dateiname),
	}
}

// referenz is a large document delivered separately (in a document
// package), named here by its UUID.
func referenz(uuid, format, dateiname string) x.OZGDokumentOderReferenz {
	return x.OZGDokumentOderReferenz{
		DokumentOderReferenz: x.OZGDokumentOderReferenzDokumentOderReferenz{Dokumentuuid: xsd.Ptr(uuid)},
		Dokumententyp:        x.CodeDokumentformat{Code: format},
		Dateiname:            xsd.Ptr(dateiname),
	}
}

func nachweis(d x.OZGDokumentOderReferenz, bezeichnung string) x.OZGDokumentOderReferenzErweitert {
	return x.OZGDokumentOderReferenzErweitert{OZGDokumentOderReferenz: d, Bezeichnung: bezeichnung}
}

func zusammenfassung(titel string, zeilen ...string) *x.OZGDokumentOderReferenz {
	d := inline(pdf(titel, zeilen), formatPDF, "Antragszusammenfassung.pdf")
	return &d
}

// Documents the samples deliver by reference, in document packages.
const (
	anerkennungUUID     = "5f1c2d4e-8a7b-4c3d-9e2f-1a0b3c4d5e6f"
	arbeitsvertragUUID  = "0c9e7d4a-3b2f-4e1d-8c5a-6f7e8d9c0b1a"
	berufsabschlussUUID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
)

// ReferencedDocuments returns the documents a sample refers to by UUID
// (delivered in Administration.Dokumentenlieferung.Paket.000040 messages).
func ReferencedDocuments(name string) []xauslaender.Document {
	doc := func(uuid, title string, lines ...string) xauslaender.Document {
		return xauslaender.Document{UUID: uuid, Format: "pdf", Data: pdf(title, append(lines, "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."))}
	}
	switch name {
	case "antrag-erwerbstaetigkeit":
		return []xauslaender.Document{doc(anerkennungUUID, "Bescheid über die Feststellung der Gleichwertigkeit (Muster)",
			"Antragsteller: Arjun Mustermann", "Referenzberuf: Industriemechaniker", "Ergebnis: volle Gleichwertigkeit")}
	case "rueckkanal-antwort":
		return []xauslaender.Document{doc(arbeitsvertragUUID, "Arbeitsvertrag, vollständig (Muster)", "Seiten 1 bis 6, unterschrieben am 15.02.2026")}
	case "fachkraefte":
		return []xauslaender.Document{doc(berufsabschlussUUID, "Berufsabschluss mit Übersetzung (Muster)", "Diploma in Mechanical Engineering, 2014")}
	}
	return nil
}

// lieferung announces the package delivery of docs (one package).
func lieferung(docs []xauslaender.Document) *x.AngabenDokumentenlieferung {
	archive, err := xauslaender.BuildArchive(docs)
	if err != nil {
		panic(err) // the sample documents are fixed
	}
	return &x.AngabenDokumentenlieferung{AnzahlDerPakete: 1, Archivgroesse: int64(len(archive))}
}

func init() {
	register(Sample{Name: "antrag-erwerbstaetigkeit", Code: x.CodeOZGAntrag130101, Direction: "EV→ABH",
		Title:   "Antrag auf Aufenthaltserlaubnis zur Beschäftigung (Fachkraft), mit Ausweis-, Visums- und Nachweisdokumenten (~20 KB, das Benchmark-Beispiel)",
		content: func() xsd.Message { return antragErwerb() }})
	register(Sample{Name: "antrag-familiennachzug", Code: x.CodeOZGAntrag130101, Direction: "EV→ABH",
		Title:   "Antrag auf Aufenthaltserlaubnis zum Ehegattennachzug, mit Referenzperson",
		content: func() xsd.Message { return antragFamilie() }})
	register(Sample{Name: "antrag-ukraine-24", Code: x.CodeOZGAntrag130101, Direction: "EV→ABH",
		Title:   "Antrag auf Aufenthaltserlaubnis nach § 24 AufenthG (vorübergehender Schutz, Ukraine) mit minderjährigem Kind",
		content: func() xsd.Message { return antragUkraine() }})
}

func antragErwerb() *x.OZGAntrag130101 {
	m := &x.OZGAntrag130101{}
	m.Antragsidentifikation = AntragsID
	m.RueckkanalVorhanden = true
	m.Antragsdatum = "2026-03-01"
	m.GrundDesAntrags = x.CodeOZGAntragsgrund{Code: "01"} // Erstbeantragung
	m.Ersteinreisedatum = xsd.Ptr(xsd.Date("2025-10-01"))
	m.GrundDesAufenthalts = x.CodeOZGAufenthaltsgrund{Code: "03"} // Erwerbstätigkeit
	m.AngabenZurPerson = x.OZGPerson{
		Vorname:      name("Arjun"),
		Familienname: name("Mustermann"),
		Geschlecht:   geschlecht("m"),
		Geburt:       geburt("Pune", staatIndien, "1994-05-17"),
		Personenbeschreibung: &x.OZGPersonPersonenbeschreibung{
			Koerpergroesse: xsd.Ptr("178"),
		},
		Familienstand:        x.OZGPersonFamilienstand{Familienstand: x.CodeFamilienstand{Code: "LD"}},
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatIndien)},
		Anschrift:            anschrift("Musterstraße", "12", "73430", "Aalen"),
		Kommunikation: []x.KommunikationType{
			kanal("01", "arjun.mustermann@example.org"),
			kanal("02", "+49 7361 000000"),
		},
		Aufenthaltsdokument: &x.OZGPersonAufenthaltsdokument{
			Aufenthaltsdokument: []x.OZGDokument{dokument(scan(120, 80, 3), formatJPG)},
		},
		Ausweisdokument: &x.OZGPersonAusweisdokument{
			Ausweisseite:         []x.OZGDokument{dokument(photo(96, 120, 7), formatJPG)},
			Gueltigkeitszeitraum: x.Zeitraum{Von: "2022-01-10", Bis: "2032-01-09"},
			Seriennummer:         "X0000001",
		},
		Vertrauensniveau: &x.OZGVertrauensniveau{
			Vorname: true, Familienname: true,
			Geburt:               &x.OZGVertrauensniveauGeburt{Geburtsort: true, TagDerGeburt: true},
			Staatsangehoerigkeit: []bool{true},
			Anschrift:            xsd.Ptr(false),
			Kommunikation:        []bool{false, false},
		},
	}
	m.Antragszusammenfassung = zusammenfassung("Antrag auf Erteilung einer Aufenthaltserlaubnis (§ 18a AufenthG)",
		"Antragsteller: Arjun Mustermann, geboren am 17.05.1994 in Pune (Indien)",
		"Anschrift: Musterstraße 12, 73430 Aalen",
		"Aufenthaltszweck: Beschäftigung als Fachkraft mit Berufsausbildung",
		"Arbeitgeber: Muster Maschinenbau GmbH, Industriestraße 5, 73431 Aalen",
		"Beginn der Beschäftigung: 01.04.2026, unbefristet, 40 Stunden je Woche",
		"Bruttogehalt: 4.150 Euro monatlich",
		"Anerkennung: Bescheid der zuständigen Stelle liegt bei (separat geliefert)",
		"Nachweise: Arbeitsvertrag, Stellenbeschreibung, Krankenversicherung, Mietvertrag",
		"Der Antragsteller versichert die Richtigkeit und Vollständigkeit seiner Angaben.",
		"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.")
	m.Nachweis = []x.OZGDokumentOderReferenzErweitert{
		nachweis(inline(pdf("Arbeitsvertrag (Muster)", []string{
			"zwischen der Muster Maschinenbau GmbH, Industriestraße 5, 73431 Aalen (Arbeitgeber)",
			"und Herrn Arjun Mustermann, Musterstraße 12, 73430 Aalen (Arbeitnehmer).",
			"§ 1 Beginn und Art der Tätigkeit: ab 01.04.2026 als Industriemechaniker.",
			"§ 2 Arbeitszeit: 40 Stunden wöchentlich, Montag bis Freitag.",
			"§ 3 Vergütung: 4.150 Euro brutto monatlich, zahlbar zum Monatsende.",
			"§ 4 Urlaub: 30 Arbeitstage im Kalenderjahr.",
			"§ 5 Probezeit: sechs Monate.",
			"§ 6 Kündigung: nach den gesetzlichen Fristen.",
			"Aalen, den 15.02.2026 - Unterschriften beider Parteien",
			"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.",
		}), formatPDF, "Arbeitsvertrag.pdf"), "Arbeitsvertrag"),
		nachweis(inline(pdf("Erklärung zum Beschäftigungsverhältnis (Muster)", []string{
			"Arbeitgeber: Muster Maschinenbau GmbH, Betriebsnummer 00000000",
			"Tätigkeit: Industriemechaniker (KldB 25102), Arbeitsort Aalen",
			"Arbeitszeit 40 Stunden, Vergütung nach Tarifvertrag Metall Baden-Württemberg",
			"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.",
		}), formatPDF, "Erklaerung-Beschaeftigungsverhaeltnis.pdf"), "Erklärung zum Beschäftigungsverhältnis"),
		nachweis(referenz(anerkennungUUID, formatPDF, "Anerkennungsbescheid.pdf"), "Bescheid über die Anerkennung der Berufsqualifikation"),
		nachweis(inline(pdf("Versicherungsbescheinigung (Muster)", []string{
			"Muster Krankenkasse, Mitgliedschaft ab 01.04.2026",
			"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.",
		}), formatPDF, "Krankenversicherung.pdf"), "Nachweis über die Krankenversicherung"),
	}
	m.SonstigeAnmerkung = xsd.Ptr("Der Bescheid über die Anerkennung der Berufsqualifikation wird wegen seiner Größe als separates Dokumentenpaket geliefert.")
	m.AngabenDokumentenlieferung = lieferung(ReferencedDocuments("antrag-erwerbstaetigkeit"))
	return m
}

func antragFamilie() *x.OZGAntrag130101 {
	m := &x.OZGAntrag130101{}
	m.Antragsidentifikation = "OZG-AT-2026-000452"
	m.RueckkanalVorhanden = true
	m.Antragsdatum = "2026-02-20"
	m.GrundDesAntrags = x.CodeOZGAntragsgrund{Code: "01"}
	m.Ersteinreisedatum = xsd.Ptr(xsd.Date("2026-01-15"))
	m.GrundDesAufenthalts = x.CodeOZGAufenthaltsgrund{Code: "01"} // Familie
	m.AngabenZurPerson = x.OZGPerson{
		Vorname:              name("Amira"),
		Familienname:         name("Musterfrau"),
		WeitererName:         []string{"Geburtsname: Beispiel"},
		Geschlecht:           geschlecht("w"),
		Geburt:               geburt("Aleppo", staatSyrien, "1997-11-03"),
		Familienstand:        x.OZGPersonFamilienstand{Familienstand: x.CodeFamilienstand{Code: "VH"}},
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatSyrien)},
		Anschrift:            anschrift("Beispielweg", "3", "73430", "Aalen"),
		Kommunikation:        []x.KommunikationType{kanal("01", "amira.musterfrau@example.org")},
		Aufenthaltsdokument: &x.OZGPersonAufenthaltsdokument{
			Aufenthaltsdokument: []x.OZGDokument{dokument(scan(120, 80, 5), formatJPG)},
		},
	}
	m.Referenzperson = []x.OZGReferenzperson{{
		Vorname:              name("Karim"),
		Familienname:         name("Musterfrau"),
		Geburt:               geburt("Damaskus", staatSyrien, "1993-06-21"),
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatSyrien)},
		FamiliaereBeziehung:  x.CodeOZGFamiliaereBeziehungReferenzperson{Code: "01"}, // Ehepartner
		Anschrift:            xsd.Ptr(gebaeude("Beispielweg", "3", "73430", "Aalen")),
	}}
	m.Antragszusammenfassung = zusammenfassung("Antrag auf Aufenthaltserlaubnis zum Familiennachzug (§ 30 AufenthG)",
		"Antragstellerin: Amira Musterfrau, geboren am 03.11.1997",
		"Ehegatte: Karim Musterfrau, Aufenthaltserlaubnis nach § 18b AufenthG",
		"Eheschließung: 12.08.2021",
		"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.")
	m.Nachweis = []x.OZGDokumentOderReferenzErweitert{
		nachweis(inline(pdf("Heiratsurkunde (Übersetzung, Muster)", []string{"Eheschließung am 12.08.2021", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Heiratsurkunde.pdf"), "Heiratsurkunde mit Übersetzung"),
		nachweis(inline(pdf("Nachweis Deutschkenntnisse A1 (Muster)", []string{"Prüfung bestanden am 10.05.2025", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Sprachzertifikat.pdf"), "Nachweis einfacher Deutschkenntnisse"),
	}
	m.VerbundenerAntrag = []string{"OZG-AT-2025-003977"}
	return m
}

func antragUkraine() *x.OZGAntrag130101 {
	m := &x.OZGAntrag130101{}
	m.Antragsidentifikation = "OZG-AT-2026-000453"
	m.RueckkanalVorhanden = false
	m.Antragsdatum = "2026-02-27"
	m.GrundDesAntrags = x.CodeOZGAntragsgrund{Code: "01"}
	m.Ersteinreisedatum = xsd.Ptr(xsd.Date("2026-02-18"))
	m.GrundDesAufenthalts = x.CodeOZGAufenthaltsgrund{Code: "04"} // humanitärer Grund
	m.AngabenZurPerson = x.OZGPerson{
		Vorname:              name("Olena"),
		Familienname:         name("Musterenko"),
		Geschlecht:           geschlecht("w"),
		Geburt:               geburt("Charkiw", staatUkraine, "1988-02-29"),
		Familienstand:        x.OZGPersonFamilienstand{Familienstand: x.CodeFamilienstand{Code: "VH"}, GetrenntLebend: xsd.Ptr(true)},
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatUkraine)},
		Anschrift:            anschrift("Musterstraße", "40", "73430", "Aalen"),
		Kommunikation:        []x.KommunikationType{kanal("02", "+49 1500 0000000")},
		Aufenthaltsdokument: &x.OZGPersonAufenthaltsdokument{
			VisumsfreieEinreise: xsd.Ptr("Visumfreie Einreise mit biometrischem Reisepass am 18.02.2026"),
		},
		Ausweisdokument: &x.OZGPersonAusweisdokument{
			Ausweisseite:         []x.OZGDokument{dokument(photo(64, 80, 2), formatJPG)},
			Gueltigkeitszeitraum: x.Zeitraum{Von: "2019-07-01", Bis: "2029-07-01"},
			Seriennummer:         "FX000000",
		},
	}
	m.Referenzperson = []x.OZGReferenzperson{{
		Vorname:              name("Taras"),
		Familienname:         name("Musterenko"),
		Geburt:               geburt("Charkiw", staatUkraine, "2015-09-09"),
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatUkraine)},
		FamiliaereBeziehung:  x.CodeOZGFamiliaereBeziehungReferenzperson{Code: "02"}, // minderjähriges Kind
		Anschrift:            xsd.Ptr(gebaeude("Musterstraße", "40", "73430", "Aalen")),
	}}
	m.Antragszusammenfassung = zusammenfassung("Antrag auf Aufenthaltserlaubnis nach § 24 AufenthG",
		"Antragstellerin: Olena Musterenko, ukrainische Staatsangehörige",
		"Vorübergehender Schutz nach dem Durchführungsbeschluss (EU) 2022/382",
		"Begleitend: Sohn Taras Musterenko, geboren am 09.09.2015",
		"Dieses Dokument ist ein Muster ohne rechtliche Wirkung.")
	m.SonstigeAnmerkung = xsd.Ptr("Beantragt wird eine Aufenthaltserlaubnis nach § 24 AufenthG (vorübergehender Schutz). Für den Sohn wird ein verbundener Antrag gestellt.")
	m.VerbundenerAntrag = []string{"OZG-AT-2026-000454"}
	return m
}
